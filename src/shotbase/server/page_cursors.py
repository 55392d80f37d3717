"""Offset-independent paging: where each page of a query ended, so the next starts there.

ftrack clients page with ``offset N limit M``. A database answers ``offset N`` by reading and
dropping N rows, so paging through 100,000 entities reads about 10 million. For a query
ordered by ``id`` alone (no ``order by``), the page at ``offset N`` is exactly the rows after
the id the previous page ended with, as long as nothing was written in between. The server
remembers that id per query and offset and seeks to it through the primary key instead.

Any committed write forgets every cursor (the process's own batches at once, other processes'
when their ``ftrack.update`` arrives through the broker), so a cursor is only used on the data
it was taken from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["PageCursors"]

DEFAULT_SIZE = 4096


class PageCursors:
    """Remembers, per query and offset, the primary key the page before that offset ended on."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: OrderedDict[tuple[Hashable, int], object] = OrderedDict()
        self._size = size
        self._version = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PageCursors({len(self._entries)} cursors, version={self._version})"

    @property
    def version(self) -> int:
        """Grows with every :meth:`forget_all`; cursors remembered under an older one are not."""
        return self._version

    def find(self, query: Hashable, offset: int) -> object | None:
        """The key the page ending at ``offset`` of ``query`` finished with, if known."""
        with self._lock:
            found = self._entries.get((query, offset))
            if found is not None:
                self._entries.move_to_end((query, offset))
            return found

    def remember(self, query: Hashable, offset: int, last_key: object, version: int) -> None:
        """Note that the rows of ``query`` before ``offset`` end with ``last_key``.

        Dropped when a write was committed since ``version`` was read.
        """
        with self._lock:
            if version != self._version:
                return
            self._entries[(query, offset)] = last_key
            self._entries.move_to_end((query, offset))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget_all(self) -> None:
        """Forget every cursor: the data changed."""
        with self._lock:
            self._version += 1
            self._entries.clear()
