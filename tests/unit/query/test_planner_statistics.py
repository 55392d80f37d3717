"""SQLite gets the planner statistics that let it start from the selective side of a query."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shotbase.schema import load_builtin_schema
from shotbase.server.batch import run_batch
from shotbase.server.state import ServerState
from shotbase.settings import Settings
from shotbase.store import build_tables, open_database, upgrade
from shotbase.store.accounts import Account
from shotbase.store.planner_statistics import STATISTICS_ROWS


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


def _create_priorities(state: ServerState, first: int, count: int) -> None:
    operations = [
        {
            "action": "create",
            "entity_type": "Priority",
            "entity_data": {"name": f"priority {i}", "sort": i},
        }
        for i in range(first, first + count)
    ]
    run_batch(state, Account("admin-id", "admin"), operations, base_url="", options={})


def test_a_running_server_analyzes_once_enough_rows_are_written(tmp_path: Path) -> None:
    state = ServerState.open(Settings(data=str(tmp_path), database=""))
    try:
        _create_priorities(state, 0, STATISTICS_ROWS // 2)
        state.planner_statistics.wait()
        assert _statistics(state.database.engine) == []  # too few writes to look again
        _create_priorities(state, STATISTICS_ROWS // 2, STATISTICS_ROWS)
        state.planner_statistics.wait()
        with state.database.engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT count(*) FROM priority").scalar_one()
        assert rows > STATISTICS_ROWS
        assert ("priority", "ix_priority_name", f"{rows} 1") in _statistics(state.database.engine)
    finally:
        state.close()
