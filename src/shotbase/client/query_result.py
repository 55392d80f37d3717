"""The lazy, paged result of ``Session.query``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from shotbase.errors import MultipleResultsFoundError, NoResultFoundError

__all__ = ["QueryResult", "split_paging"]

# The ftrack-style client strips any "offset N" / "limit N" and pages itself.
_OFFSET = re.compile(r"\boffset\s+(\d+)", re.IGNORECASE)
_LIMIT = re.compile(r"\blimit\s+(\d+)", re.IGNORECASE)

Fetch = Callable[[str], tuple[list[Any], int | None]]
"""Runs one query expression; returns its entities and the next offset (or None)."""


def split_paging(expression: str) -> tuple[str, int | None, int | None]:
    """``expression`` without ``offset``/``limit``, and the stripped values."""
    offset = limit = None
    found = _OFFSET.search(expression)
    if found:
        offset = int(found.group(1))
        expression = expression[: found.start()] + expression[found.end() :]
    found = _LIMIT.search(expression)
    if found:
        limit = int(found.group(1))
        expression = expression[: found.start()] + expression[found.end() :]
    return " ".join(expression.split()), offset, limit


class QueryResult:
    """Entities matching a query, fetched page by page as they are consumed."""

    def __init__(self, fetch: Fetch, expression: str, page_size: int = 500) -> None:
        """Prepare ``expression``; nothing is fetched until the result is used.

        Args:
            fetch: Runs one page's expression.
            expression: Full query text (with ``select``).
            page_size: Most entities per request.
        """
        self._fetch = fetch
        self._expression, self._offset, self._limit = split_paging(expression)
        self._page_size = page_size
        self._results: list[Any] = []
        self._next: int | None = self._offset or 0
        self._done = False

    def __repr__(self) -> str:
        state = f"{len(self._results)} fetched" + ("" if self._done else ", more to fetch")
        return f"QueryResult({self._expression!r}, {state})"

    @property
    def expression(self) -> str:
        """The query text, without paging."""
        return self._expression

    def _fetch_page(self) -> bool:
        if self._done or self._next is None:
            self._done = True
            return False
        size = self._page_size
        if self._limit is not None:
            size = min(size, self._limit - len(self._results))
        entities, following = self._fetch(f"{self._expression} offset {self._next} limit {size}")
        self._results.extend(entities)
        self._next = following
        if following is None or (self._limit is not None and len(self._results) >= self._limit):
            self._done = True
        return bool(entities)

    def __iter__(self) -> Iterator[Any]:
        index = 0
        while True:
            while index < len(self._results):
                yield self._results[index]
                index += 1
            if self._done or not self._fetch_page():
                if index >= len(self._results):
                    return

    def all(self) -> list[Any]:
        """Every matching entity (fetching the remaining pages)."""
        while not self._done:
            self._fetch_page()
        return list(self._results)

    def __len__(self) -> int:
        return len(self.all())

    def __getitem__(self, index: int) -> Any:
        return self.all()[index]

    def one(self) -> Any:
        """The only matching entity.

        Raises:
            ValueError: If the expression has its own offset or limit.
            NoResultFoundError: If nothing matches.
            MultipleResultsFoundError: If more than one entity matches.
        """
        if self._limit is not None:
            raise ValueError("Expression already contains a limit clause.")
        if self._offset is not None:
            raise ValueError(
                "Expression contains an offset clause which does not make sense when "
                "selecting a single item."
            )
        entities, _ = self._fetch(f"{self._expression} limit 2")
        if not entities:
            raise NoResultFoundError(f"No result found for {self._expression!r}.")
        if len(entities) > 1:
            raise MultipleResultsFoundError(f"More than one result found for {self._expression!r}.")
        return entities[0]

    def first(self) -> Any:
        """The first matching entity, or None.

        Raises:
            ValueError: If the expression has its own limit.
        """
        if self._limit is not None:
            raise ValueError("Expression already contains a limit clause.")
        offset = f" offset {self._offset}" if self._offset else ""
        entities, _ = self._fetch(f"{self._expression}{offset} limit 1")
        return entities[0] if entities else None
