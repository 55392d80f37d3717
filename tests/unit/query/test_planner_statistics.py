"""SQLite gets the planner statistics that let it start from the selective side of a query."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shotbase.schema import load_builtin_schema
from shotbase.store import build_tables, open_database, upgrade
from shotbase.store.migrations import STATISTICS_ROWS


def _statistics(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("sqlite_stat1"):
            return []
        rows = connection.exec_driver_sql("SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY 1, 2")
        return [tuple(row) for row in rows]


def _add_priorities(engine: sa.Engine, table: sa.Table, count: int, start: int = 0) -> None:
    rows = [{"id": f"p{i}", "name": f"priority {i}", "_type": "Priority"} for i in range(count)]
    with engine.begin() as connection:
        connection.execute(table.insert(), rows[start:])


def test_upgrade_analyzes_a_database_that_has_outgrown_its_statistics(tmp_path: Path) -> None:
    tables = build_tables(load_builtin_schema())
    database = open_database(f"sqlite:///{tmp_path / 'shotbase.sqlite'}")
    try:
        upgrade(database.engine, tables)
        assert _statistics(database.engine) == []  # nothing worth analyzing yet
        priority = tables.families["Priority"]
        _add_priorities(database.engine, priority, STATISTICS_ROWS)
        upgrade(database.engine, tables)
        first = _statistics(database.engine)
        assert ("priority", "ix_priority_name", f"{STATISTICS_ROWS} 1") in first
        upgrade(database.engine, tables)
        assert _statistics(database.engine) == first  # still current: left alone
        _add_priorities(database.engine, priority, 3 * STATISTICS_ROWS, start=STATISTICS_ROWS)
        upgrade(database.engine, tables)
        assert ("priority", "ix_priority_name", f"{3 * STATISTICS_ROWS} 1") in _statistics(
            database.engine
        )
    finally:
        database.dispose()
