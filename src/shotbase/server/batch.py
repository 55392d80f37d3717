"""Run one ``/api`` batch: every operation in order, in one transaction, all or nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from shotbase.errors import RequestError, UnknownActionError
from shotbase.server.actions import ACTIONS, WRITE_ACTIONS, ActionContext
from shotbase.server.state import ServerState
from shotbase.store.accounts import Account

__all__ = ["run_batch"]

logger = logging.getLogger(__name__)


def run_batch(
    state: ServerState,
    account: Account,
    operations: Sequence[Any],
    *,
    base_url: str,
    options: Mapping[str, str],
) -> list[Any]:
    """Apply ``operations`` and return one result per operation.

    Raises:
        ShotbaseError: The first error of any operation; nothing of the batch is kept.
    """
    handlers = [_handler_for(operation) for operation in operations]
    write = any(operation["action"] in WRITE_ACTIONS for operation in operations)
    with state.database.transaction(write=write) as connection:
        context = ActionContext(state, account, connection, base_url, options)
        results = [handler(context, op) for handler, op in zip(handlers, operations, strict=True)]
        context.finish()
        rendered = [result() if callable(result) else result for result in results]
    if write:
        logger.debug("committed a batch of %d operations", len(operations))
    return rendered


def _handler_for(operation: Any) -> Any:
    if not isinstance(operation, dict):
        raise RequestError("Each operation must be a JSON object with an 'action'.")
    action = operation.get("action")
    if not isinstance(action, str):
        raise RequestError("Each operation must name its 'action'.")
    if action not in ACTIONS:
        raise UnknownActionError(action)
    return ACTIONS[action]
