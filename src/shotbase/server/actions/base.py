"""What every action receives: the server, the caller and the batch's transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shotbase.errors import RequestError
from shotbase.server.state import ServerState
from shotbase.store.accounts import Account
from shotbase.store.writer import Change, Writer

__all__ = ["ActionContext", "Handler", "require"]


@dataclass(eq=False, slots=True)
class ActionContext:
    """One batch being run: shared by its operations, in order."""

    state: ServerState
    account: Account
    connection: sa.Connection
    base_url: str
    options: Mapping[str, str] = field(default_factory=dict)
    _writer: Writer | None = None

    def __repr__(self) -> str:
        return f"ActionContext(account={self.account!r})"

    @property
    def writer(self) -> Writer:
        """The batch's writer, made on first use."""
        if self._writer is None:
            self._writer = Writer(self.state.tables, self.connection, user_id=self.account.id)
        return self._writer

    @property
    def changes(self) -> list[Change]:
        """What the batch's writes changed so far, in order."""
        return [] if self._writer is None else list(self._writer.changes)

    def flush(self) -> None:
        """Make buffered writes visible to reads in this batch."""
        if self._writer is not None:
            self._writer.flush()

    def finish(self) -> None:
        """End the batch's writes: insert what is buffered and check references."""
        if self._writer is not None:
            self._writer.finish()


Handler = Callable[[ActionContext, Mapping[str, Any]], Any]


def require(operation: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """The operation field ``name``, checked to be of ``kind``.

    Raises:
        RequestError: If the field is missing or of another type.
    """
    if name not in operation:
        raise RequestError(f"The {operation.get('action')!r} operation needs {name!r}.")
    value = operation[name]
    if not isinstance(value, kind):
        raise RequestError(f"{operation.get('action')!r}: {name!r} has the wrong type.")
    return value
