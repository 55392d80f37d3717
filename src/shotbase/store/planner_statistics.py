"""SQLite's query planner statistics, kept in step with the data.

Without statistics SQLite cannot tell that ``_type = 'Task'`` matches most of the context
table and ``parent_id = ?`` ten rows, and reads 100,000 tasks to find the ten of one shot.
``ANALYZE`` fixes that, but it reads every table, so it runs only when a table of some size
has no statistics or has twice or half the rows they were taken with: at start-up (see
:mod:`shotbase.store.migrations`) and, while the server runs, after enough writes for that
to be possible. PostgreSQL keeps its own statistics current (autovacuum), so there this does
nothing.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from shotbase.store.engine import Database
from shotbase.store.tables import Tables

__all__ = ["STATISTICS_ROWS", "PlannerStatistics", "refresh_if_stale"]

logger = logging.getLogger(__name__)

# Tables smaller than this are read whole whatever the plan; their statistics do not matter.
STATISTICS_ROWS = 1000


def refresh_if_stale(connection: sa.Connection, tables: Tables) -> int:
    """``ANALYZE`` when a table of some size has no statistics, or twice or half the rows
    they were taken with (a full pass: about a second for 100,000 tasks); return the row
    count of the largest table."""
    recorded: dict[str, int] = {}
    if sa.inspect(connection).has_table("sqlite_stat1"):
        for table, stat in connection.exec_driver_sql("SELECT tbl, stat FROM sqlite_stat1"):
            first = str(stat).split(" ", 1)[0]
            recorded[table] = max(recorded.get(table, 0), int(first) if first.isdigit() else 0)
    counts = {
        table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        for table in tables.metadata.sorted_tables
    }
    for name, count in counts.items():
        known = recorded.get(name)
        if count >= STATISTICS_ROWS and (known is None or not known / 2 <= count <= known * 2):
            logger.info("refreshing query planner statistics (%s has %d rows)", name, count)
            connection.exec_driver_sql("ANALYZE")
            break
    return max(counts.values(), default=0)


class PlannerStatistics:
    """Checks the statistics again, in a background thread, once a server has written enough
    rows since the last check for some table to have doubled or halved.

    Args:
        database: The server's database; on anything but SQLite nothing is done.
        tables: Its tables.
    """

    def __init__(self, database: Database, tables: Tables) -> None:
        self.database, self.tables = database, tables
        self._written = 0
        self._threshold = STATISTICS_ROWS  # until the first check has counted the rows
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"PlannerStatistics(written={self._written}, threshold={self._threshold})"

    def note_writes(self, count: int) -> None:
        """Count rows a committed batch created, changed or deleted; start a check once
        they add up to half the largest table (at least :data:`STATISTICS_ROWS`)."""
        if self.database.dialect != "sqlite" or count <= 0:
            return
        with self._lock:
            self._written += count
            if self._written < self._threshold or self._running is not None:
                return
            self._written = 0
            self._running = threading.Thread(
                target=self._check, name="shotbase-planner-statistics", daemon=True
            )
            self._running.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a check under way (at shut-down, and in tests)."""
        running = self._running
        if running is not None:
            running.join(timeout)

    def _check(self) -> None:
        largest = None
        try:
            # ANALYZE writes its tables: it queues with the other writers; readers go on.
            with self.database.transaction(write=True) as connection:
                largest = refresh_if_stale(connection, self.tables)
        except Exception as exc:  # noqa: BLE001 - stale statistics slow queries, nothing more
            logger.warning("could not refresh the query planner statistics: %s", exc)
        finally:
            with self._lock:
                if largest is not None:
                    self._threshold = _threshold(largest)
                self._running = None


def _threshold(largest: int) -> int:
    return max(STATISTICS_ROWS, largest // 2)
