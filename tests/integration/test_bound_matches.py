"""Reference filters whose matches are read first and bound as values (where the filtered
column's values each cover many rows), and the sub-queries used otherwise or when the matches
are many: the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shotbase.query import compiler as compiler_module
from shotbase.query.parser import parse
from shotbase.server.batch import run_batch
from shotbase.server.state import ServerState, prepare_database
from shotbase.settings import Settings
from shotbase.store import planner_statistics
from shotbase.store.accounts import Account, find_user
from shotbase.store.planner_statistics import ColumnValues

SHOTS = 5
TASKS_PER_SHOT = 3


class Studio:
    """An in-process server with one project of shots and tasks, half of them done."""

    def __init__(self, state: ServerState, account: Account) -> None:
        self.state, self.account = state, account

    def call(self, *operations: dict[str, Any]) -> list[Any]:
        outcome = run_batch(self.state, self.account, list(operations), base_url="", options={})
        return outcome.results

    def ids(self, expression: str) -> list[str]:
        """Every match's id, following pages."""
        found: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = self.call({"action": "query", "expression": f"{expression} offset {offset}"})
            found += [row["id"] for row in page[0]["data"]]
            offset = page[0]["metadata"]["next"]["offset"]
        return found


def _create(entity_type: str, **data: Any) -> dict[str, Any]:
    return {"action": "create", "entity_type": entity_type, "entity_data": data}


@pytest.fixture(scope="module")
def studio(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    data: Path = tmp_path_factory.mktemp("data")
    state = ServerState.open(Settings(data=str(data), database=database_url, page_size_limit=4))
    prepare_database(state)
    with state.database.transaction(write=False) as connection:
        account = find_user(state.tables, connection, "admin")
    assert account is not None
    studio = Studio(state, account)
    done = studio.ids('Status where state.short is "DONE"')[0]
    other = studio.ids('Status where not state.short is "DONE"')[0]
    schema = studio.call({"action": "query", "expression": "select id from ProjectSchema"})
    schema_id = schema[0]["data"][0]["id"]
    operations = [
        _create("Project", id="p-1", name="alpha", full_name="Alpha", project_schema_id=schema_id),
        _create("Project", id="p-2", name="empty", full_name="Empty", project_schema_id=schema_id),
    ]
    for shot in range(SHOTS):
        operations.append(_create("Shot", id=f"s-{shot}", name=f"sh{shot}", parent_id="p-1"))
        for task in range(TASKS_PER_SHOT):
            status = done if (shot + task) % 2 else other
            operations.append(
                _create(
                    "Task",
                    id=f"t-{shot}-{task}",
                    name=f"task{task}",
                    parent_id=f"s-{shot}",
                    status_id=status,
                )
            )
    studio.call(*operations)
    yield studio
    state.close()


def _all_tasks() -> list[str]:
    return sorted(f"t-{shot}-{task}" for shot in range(SHOTS) for task in range(TASKS_PER_SHOT))


def _done_tasks() -> list[str]:
    return sorted(
        f"t-{shot}-{task}"
        for shot in range(SHOTS)
        for task in range(TASKS_PER_SHOT)
        if (shot + task) % 2
    )


def test_a_reference_filter_finds_the_tasks_of_its_project(studio: Studio) -> None:
    assert studio.ids('Task where project.full_name is "Alpha"') == _all_tasks()


def test_a_project_without_tasks_answers_nothing(studio: Studio) -> None:
    assert studio.ids('Task where project.full_name is "Empty"') == []
    assert studio.ids('Task where project.full_name is "No such project"') == []


def test_nested_reference_filters_use_the_matches_of_the_inner_one(studio: Studio) -> None:
    expression = 'Task where project.name is "alpha" and status.state.short is "DONE"'
    assert studio.ids(expression) == _done_tasks()


def test_a_reference_filter_inside_a_collection_filter(studio: Studio) -> None:
    expression = (
        'Shot where children any (status.state.short is "DONE") and project.name is "alpha"'
    )
    assert studio.ids(expression) == [f"s-{shot}" for shot in range(SHOTS)]


def test_reference_filters_under_or_and_not(studio: Studio) -> None:
    expression = 'Task where project.name is "empty" or not status.state.short is "DONE"'
    assert studio.ids(expression) == sorted(set(_all_tasks()) - set(_done_tasks()))


def test_more_matches_than_are_bound_fall_back_to_a_sub_query(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiler_module, "MAX_BOUND_MATCHES", 2)
    monkeypatch.setattr(ColumnValues, "worth_binding", lambda *args: True)
    # A compiler of its own: none of the others' compiled queries, and none left behind.
    monkeypatch.setattr(
        studio.state, "compiler", compiler_module.QueryCompiler(studio.state.tables)
    )
    shots = (1, 2, 3, 4)  # more than one over the limit: a truncated list would lose sh4
    expected = sorted(f"t-{shot}-{task}" for shot in shots for task in range(TASKS_PER_SHOT))
    expression = 'Task where parent.name in ("sh1", "sh2", "sh3", "sh4")'
    assert studio.ids(expression) == expected


def test_matches_are_prefetched_in_the_order_they_depend_on_each_other(studio: Studio) -> None:
    compiled = studio.state.compiler.compile(
        parse('Task where project.name is "alpha" and status.state.short is "DONE"'),
        bind_matches=True,
    )
    keys = [prefetch.key for prefetch in compiled.prefetch]
    assert keys == ["_matches_0", "_matches_1", "_matches_2"]  # project, state, then status
    with studio.state.database.transaction(write=False) as connection:
        values = studio.state.compiler.read_matches(compiled, connection)
        assert values is not None
        assert values["_matches_0"] == ["p-1"]
        assert len(values["_matches_1"]) == 1  # the DONE state
        assert values["_matches_2"]  # its statuses
        rows = connection.execute(compiled.statement, values).all()
    assert sorted(row.id for row in rows)[:4] == _done_tasks()[:4]


def test_without_bound_matches_nothing_is_prefetched(studio: Studio) -> None:
    compiled = studio.state.compiler.compile(parse('Task where project.name is "alpha"'))
    assert compiled.prefetch == ()


def test_columns_worth_binding(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planner_statistics, "ROWS_PER_VALUE", 5)  # the studio is small
    postgresql = studio.state.database.dialect == "postgresql"
    values = ColumnValues(studio.state.tables)
    with studio.state.database.engine.connect() as connection:
        # PostgreSQL without statistics: nothing to go by, so no round trip is spent. SQLite
        # goes by the index of a project's rows of one type.
        assert values.worth_binding(connection, "context", "project_id") is not postgresql
        assert not values.worth_binding(connection, "context", "parent_id")
    with studio.state.database.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    values = ColumnValues(studio.state.tables)  # nothing remembered
    with studio.state.database.engine.connect() as connection:
        assert values.worth_binding(connection, "context", "project_id")  # 20 rows a project
        assert not values.worth_binding(connection, "context", "name")  # 2-3 rows a name
