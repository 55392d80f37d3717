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
import time

import sqlalchemy as sa

from shotbase.store.engine import Database
from shotbase.store.tables import TYPE_COLUMN, Tables

__all__ = [
    "ROWS_PER_VALUE",
    "STATISTICS_ROWS",
    "ColumnValues",
    "PlannerStatistics",
    "refresh_if_stale",
]

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


# A column whose values each cover this many rows on average (a project, a status, a type)
# has values whose share of the rows differs widely; one with fewer rows a value (a parent)
# is planned well without knowing the value.
ROWS_PER_VALUE = 1000
COLUMN_VALUES_SECONDS = 300.0

_POSTGRESQL_SPREAD = sa.text(
    "SELECT s.n_distinct, c.reltuples FROM pg_stats s"
    " JOIN pg_class c ON c.relname = s.tablename"
    " AND c.relnamespace = to_regnamespace(s.schemaname)"
    " WHERE s.schemaname = current_schema() AND s.tablename = :table AND s.attname = :column"
)


class ColumnValues:
    """For which columns a filter is planned better when the database is given the values
    it compares with, instead of a sub-query that finds them.

    - PostgreSQL: columns whose values each cover many rows by its statistics (``pg_stats``,
      remembered for a few minutes): the share of rows of a given project or status varies,
      and the planner sees it only for a value it is given.
    - SQLite: columns with an index that starts with the column and the entity type
      (``project_id``): with one value it walks that project's rows of that type in key
      order; it keeps no statistics of single values.
    """

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ColumnValues(known={len(self._known)})"

    def worth_binding(self, connection: sa.Connection, table: str, column: str) -> bool:
        """Whether filters on ``table.column`` should be given their values (see above);
        false without statistics on PostgreSQL (a small table never analyzed)."""
        now = time.monotonic()
        with self._lock:
            known = self._known.get((table, column))
        if known is not None and now - known[0] < COLUMN_VALUES_SECONDS:
            return known[1]
        if connection.dialect.name == "postgresql":
            rows = _rows_per_value(connection, table, column)
            worth = rows is not None and rows >= ROWS_PER_VALUE
        else:
            worth = self._indexed_with_type(table, column)
        with self._lock:
            self._known[(table, column)] = (now, worth)
        return worth

    def _indexed_with_type(self, table: str, column: str) -> bool:
        stored = self.tables.metadata.tables.get(table)
        return stored is not None and any(
            [c.name for c in index.columns][:2] == [column, TYPE_COLUMN] for index in stored.indexes
        )


def _rows_per_value(connection: sa.Connection, table: str, column: str) -> float | None:
    """Rows per distinct value of ``table.column`` by PostgreSQL's statistics."""
    found = connection.execute(_POSTGRESQL_SPREAD, {"table": table, "column": column}).first()
    if found is None or not found[0]:
        return None
    # Positive: that many values; negative: minus their share of the rows.
    distinct, total = float(found[0]), float(found[1])
    return total / distinct if distinct > 0 else 1 / -distinct
