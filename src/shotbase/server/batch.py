"""Run one ``/api`` batch: every operation in order, in one transaction, all or nothing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shotbase.errors import RequestError, UnknownActionError, ValidationError
from shotbase.server.actions import ACTIONS, WRITE_ACTIONS, ActionContext
from shotbase.server.state import ServerState
from shotbase.server.updates import Lineage, collect_lineage
from shotbase.store.accounts import Account
from shotbase.store.writer import Change

__all__ = ["BatchOutcome", "run_batch"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """A committed batch: one result per operation, what it changed and those entities'
    ancestors, for the ``ftrack.update`` event published after the answer."""

    results: list[Any]
    changes: list[Change] = field(default_factory=list)
    lineage: Lineage = field(default_factory=dict)


def run_batch(
    state: ServerState,
    account: Account,
    operations: Sequence[Any],
    *,
    base_url: str,
    options: Mapping[str, str],
) -> BatchOutcome:
    """Apply ``operations``; return one result per operation and, for ``ftrack.update``
    events, the changed entities (described inside the transaction, returned after commit).

    Raises:
        ShotbaseError: The first error of any operation; nothing of the batch is kept.
    """
    handlers = [_handler_for(operation) for operation in operations]
    write = any(operation["action"] in WRITE_ACTIONS for operation in operations)
    with _database_errors(), state.database.transaction(write=write) as connection:
        context = ActionContext(state, account, connection, base_url, options)
        results = [handler(context, op) for handler, op in zip(handlers, operations, strict=True)]
        context.finish()
        rendered = [result() if callable(result) else result for result in results]
        changes = list(context.changes)
        lineage = collect_lineage(state.tables, connection, changes) if changes else {}
    if changes:
        state.page_cursors.forget_all()
        state.planner_statistics.note_writes(len(changes))
    if write:
        logger.debug("committed a batch of %d operations", len(operations))
    return BatchOutcome(rendered, changes, lineage)


@contextlib.contextmanager
def _database_errors() -> Iterator[None]:
    """Translate what the database refuses into errors that name the problem."""
    try:
        yield
    except sa.exc.DataError as exc:
        raise ValidationError(f"The database refused a value: {_first_line(exc.orig)}") from exc
    except sa.exc.IntegrityError as exc:
        raise ValidationError(
            f"The change conflicts with stored data: {_first_line(exc.orig)}"
        ) from exc


def _first_line(error: BaseException | None) -> str:
    return (
        str(error).strip().splitlines()[0]
        if error is not None and str(error).strip()
        else "no detail"
    )


def _handler_for(operation: Any) -> Any:
    if not isinstance(operation, dict):
        raise RequestError("Each operation must be a JSON object with an 'action'.")
    action = operation.get("action")
    if not isinstance(action, str):
        raise RequestError("Each operation must name its 'action'.")
    if action not in ACTIONS:
        raise UnknownActionError(action)
    return ACTIONS[action]
