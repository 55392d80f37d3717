"""Moving one component's bytes between two accessors, and undoing a partial transfer."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shotbase.client.entity import Entity

__all__ = ["CHUNK_SIZE", "copy_data", "discard_data"]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20


def copy_data(source: Any, source_identifier: str, target: Any, target_identifier: str) -> int:
    """Stream one file from ``source`` to ``target`` in chunks (bounded memory).

    The target is written under a temporary name by shotbase's accessors and published on a
    successful close only; on any failure the writer is aborted, so no partial file is left.

    Returns:
        The number of bytes copied.
    Raises:
        AccessorError: If either side fails.
    """
    reader = source.open(source_identifier, "rb")
    try:
        writer = target.open(target_identifier, "wb")
        copied = 0
        try:
            while chunk := reader.read(CHUNK_SIZE):
                copied += writer.write(chunk) or len(chunk)
        except BaseException:
            _abort(writer)
            raise
        writer.close()
    finally:
        reader.close()
    return copied


def _abort(writer: Any) -> None:
    abort = getattr(writer, "abort", None)
    with contextlib.suppress(Exception):
        if callable(abort):
            abort()
        else:
            writer.close()


def discard_data(location: Any, transferred: list[tuple[Entity, str]]) -> None:
    """Remove the data ``location`` received for ``transferred`` (best effort, logged)."""
    if not location.managed or not location.accessor:
        return
    for component, identifier in reversed(transferred):
        if component.entity_type == "SequenceComponent":
            continue  # its members were the data
        try:
            location.accessor.remove(identifier)
        except Exception:  # noqa: BLE001 - cleanup must not hide the original failure
            logger.warning(
                "could not remove %r of %s from %s after a failed add",
                identifier,
                component,
                location,
                exc_info=True,
            )
