"""Moving one component's bytes between two accessors, and undoing a partial transfer."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from shotbase.errors import (
    AccessorError,
    AccessorParentResourceNotFoundError,
    AccessorResourceNotFoundError,
)
from shotbase.storage.accessor.disk import DiskAccessor
from shotbase.storage.accessor.path import PathAccessor

if TYPE_CHECKING:
    from shotbase.client.entity import Entity

__all__ = ["CHUNK_SIZE", "TargetFolders", "copy_data", "copy_files", "discard_data"]

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


def copy_files(source: Any, target: Any, pairs: list[tuple[str, str]]) -> None:
    """Copy ``(source identifier, target identifier)`` pairs, in one batch where the accessors
    offer one: local files go up with the target's ``put_files`` and come down with the
    source's ``get_files`` (SFTP keeps several files in flight); otherwise one by one."""
    if not pairs:
        return
    if _is_local(source) and callable(getattr(target, "put_files", None)):
        target.put_files([(source.get_filesystem_path(each), goal) for each, goal in pairs])
    elif _is_local(target) and callable(getattr(source, "get_files", None)):
        source.get_files([(each, target.get_filesystem_path(goal)) for each, goal in pairs])
    else:
        for each, goal in pairs:
            copy_data(source, each, target, goal)


def _is_local(accessor: Any) -> bool:
    return isinstance(accessor, (DiskAccessor, PathAccessor))


class TargetFolders:
    """Makes each target container once and reads what it holds in one listing, so adding
    many files costs a few round trips, not several per file."""

    def __init__(self, accessor: Any) -> None:
        self.accessor = accessor
        self.existing: set[str] = set()  # identifiers found holding data: never to discard
        self._names: dict[str, set[str] | None] = {}

    def __repr__(self) -> str:
        return f"TargetFolders({self.accessor!r}, {len(self._names)} containers)"

    def holds(self, identifier: str) -> bool:
        """Make the container of ``identifier`` if needed; whether data is already there."""
        try:
            container = self.accessor.get_container(identifier)
        except AccessorParentResourceNotFoundError:
            return bool(self.accessor.exists(identifier))
        if container is None:
            return bool(self.accessor.exists(identifier))
        if container not in self._names:
            if container:
                self.accessor.make_container(container)
            self._names[container] = self._listing(container)
        names = self._names[container]
        if names is None:
            return bool(self.accessor.exists(identifier))
        return _name(identifier) in names

    def _listing(self, container: str) -> set[str] | None:
        try:
            return {_name(entry) for entry in self.accessor.list(container)}
        except (AccessorError, NotImplementedError):
            return None


def _name(identifier: str) -> str:
    return identifier.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


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
        except AccessorResourceNotFoundError:
            continue  # never written: the failure came first
        except Exception:  # noqa: BLE001 - cleanup must not hide the original failure
            logger.warning(
                "could not remove %r of %s from %s after a failed add",
                identifier,
                component,
                location,
                exc_info=True,
            )
