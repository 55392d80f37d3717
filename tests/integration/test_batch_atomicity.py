"""A batch runs in order, sees its own writes, and is all or nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.integration.conftest import (
    SERVER_LOCATION_ID,
    STRICT,
    create_op,
    delete_op,
    new_id,
    new_project,
    new_task,
    project_data,
    query,
    query_all,
    query_op,
    ref,
    results,
    run,
    unique,
    update_op,
)

SNAPSHOT_EXPRESSIONS = (
    "select id, name, parent_id from Context",
    "select id, name, bid, status_id, type_id, description from Task",
    "select id, name, full_name from Project",
    "select id, name, size from FileComponent",
    "select id, component_id, location_id, resource_identifier from ComponentLocation",
)


def snapshot(server: ServerProcess) -> dict[str, list[str]]:
    """Every row of the types a batch could touch, in a comparable form."""
    return {
        expression: sorted(json.dumps(row, sort_keys=True) for row in query_all(server, expression))
        for expression in SNAPSHOT_EXPRESSIONS
    }


@dataclass
class World:
    """Existing data a failing batch may reference."""

    project_id: str
    task_id: str


@dataclass
class NewData:
    """The Project and Sequence that the first two operations of a failing batch create."""

    project: dict[str, Any]
    sequence_id: str


Invalid = Callable[[World, NewData], dict[str, Any]]

INVALID_THIRD_OPERATIONS = [
    pytest.param(
        lambda w, n: create_op(
            "Shot", {"name": "sh010", "parent": ref("Sequence", n.sequence_id), "nmae": 1}
        ),
        id="create-with-unknown-attribute",
    ),
    pytest.param(
        lambda w, n: create_op(
            "Task", {"name": "t", "parent": ref("Sequence", n.sequence_id), "bid": "lots"}
        ),
        id="create-with-wrong-value-type",
    ),
    pytest.param(
        lambda w, n: create_op("Shott", {"name": "sh010"}),
        id="create-of-unknown-entity-type",
    ),
    pytest.param(
        lambda w, n: create_op(
            "Task", {"id": w.task_id, "name": "again", "parent": ref("Project", w.project_id)}
        ),
        id="create-of-duplicate-id",
    ),
    pytest.param(
        lambda w, n: update_op("Sequence", n.sequence_id, {"nmae": "sq020"}),
        id="update-of-new-entity-with-unknown-attribute",
    ),
    pytest.param(
        lambda w, n: update_op("Task", w.task_id, {"bid": "lots"}),
        id="update-of-existing-entity-with-wrong-value-type",
    ),
    pytest.param(
        lambda w, n: update_op("Task", new_id(), {"name": "ghost"}),
        id="update-of-missing-entity",
    ),
    pytest.param(
        lambda w, n: delete_op("Task", new_id()),
        id="delete-of-missing-entity",
    ),
    pytest.param(
        lambda w, n: create_op(
            "Task",
            {
                "name": "t",
                "parent": ref("Sequence", n.sequence_id),
                "status": ref("Status", new_id()),
            },
        ),
        id="create-referencing-missing-status",
    ),
    pytest.param(
        lambda w, n: create_op(
            "Task", {"name": "t", "parent": ref("Sequence", n.sequence_id), "status_id": new_id()}
        ),
        id="create-referencing-missing-status-id",
    ),
    pytest.param(
        lambda w, n: create_op("Shot", {"name": "sh010", "parent": ref("Sequence", new_id())}),
        id="create-referencing-missing-parent",
    ),
    pytest.param(
        lambda w, n: update_op("Task", w.task_id, {"parent": ref("Project", new_id())}),
        id="update-referencing-missing-parent",
    ),
    pytest.param(
        lambda w, n: create_op(
            "ComponentLocation", {"component_id": new_id(), "location_id": SERVER_LOCATION_ID}
        ),
        id="create-referencing-missing-component-id",
    ),
    pytest.param(
        lambda w, n: query_op(f'Sequence where id is "{n.sequence_id}" and nmae is "x"'),
        id="query-of-unknown-attribute",
    ),
]


@pytest.fixture
def world(server: ServerProcess) -> World:
    project_id = new_project(server)
    return World(project_id, new_task(server, project_id, "before"))


def failing_batch(
    server: ServerProcess, world: World, invalid: Invalid
) -> tuple[list[Any], NewData]:
    """[create Project, create Sequence, <invalid>, update an existing Task, create a Task]."""
    new = NewData(project_data(server), new_id())
    operations = [
        create_op("Project", new.project),
        create_op(
            "Sequence",
            {"id": new.sequence_id, "name": "sq010", "parent": ref("Project", new.project["id"])},
        ),
        invalid(world, new),
        update_op("Task", world.task_id, {"name": "after", "description": "changed"}),
        create_op("Task", {"name": "late", "parent": ref("Project", world.project_id)}),
    ]
    return operations, new


@pytest.mark.parametrize("invalid", INVALID_THIRD_OPERATIONS)
def test_batch_with_invalid_third_operation_is_rejected(
    server: ServerProcess, world: World, invalid: Invalid
) -> None:
    operations, _ = failing_batch(server, world, invalid)
    response = server.call(operations, **STRICT)
    assert 400 <= response.status_code < 500, response.text
    assert "exception" in response.json()


@pytest.mark.parametrize("invalid", INVALID_THIRD_OPERATIONS)
def test_batch_with_invalid_third_operation_leaves_database_unchanged(
    server: ServerProcess, world: World, invalid: Invalid
) -> None:
    operations, new = failing_batch(server, world, invalid)
    before = snapshot(server)
    server.call(operations)
    assert query(server, f'select id from Project where name is "{new.project["name"]}"') == []
    assert snapshot(server) == before


def test_failed_batch_undoes_its_earlier_updates_and_deletes(
    server: ServerProcess, world: World
) -> None:
    doomed = new_task(server, world.project_id, "doomed")
    before = snapshot(server)
    response = server.call(
        [
            update_op("Task", world.task_id, {"name": "renamed"}),
            delete_op("Task", doomed),
            delete_op("Task", new_id()),
        ]
    )
    assert "exception" in response.json()
    assert snapshot(server) == before


def test_query_in_batch_sees_entity_created_earlier_in_it(server: ServerProcess) -> None:
    data = project_data(server)
    found = run(
        server,
        create_op("Project", data),
        query_op(f'select name from Project where id is "{data["id"]}"'),
    )[1]["data"]
    assert [(row["id"], row["name"]) for row in found] == [(data["id"], data["name"])]


def test_query_in_batch_sees_update_made_earlier_in_it(server: ServerProcess, world: World) -> None:
    found = run(
        server,
        update_op("Task", world.task_id, {"name": "updated"}),
        query_op(f'select name from Task where id is "{world.task_id}"'),
    )[1]["data"]
    assert [row["name"] for row in found] == ["updated"]


def test_query_in_batch_does_not_see_entity_deleted_earlier_in_it(
    server: ServerProcess, world: World
) -> None:
    found = run(
        server,
        delete_op("Task", world.task_id),
        query_op(f'select id from Task where id is "{world.task_id}"'),
    )[1]["data"]
    assert found == []


def test_create_may_reference_component_created_earlier_in_batch(server: ServerProcess) -> None:
    component_id, location_id = new_id(), new_id()
    created = run(
        server,
        create_op(
            "FileComponent", {"id": component_id, "name": "data", "file_type": ".json", "size": 13}
        ),
        create_op(
            "ComponentLocation",
            {
                "id": location_id,
                "component": ref("FileComponent", component_id),
                "location": ref("Location", SERVER_LOCATION_ID),
                "resource_identifier": component_id,
            },
        ),
    )
    assert [result["data"]["id"] for result in created] == [component_id, location_id]


def test_component_location_created_by_forward_reference_is_stored(server: ServerProcess) -> None:
    component_id = new_id()
    run(
        server,
        create_op(
            "FileComponent", {"id": component_id, "name": "data", "file_type": ".json", "size": 13}
        ),
        create_op(
            "ComponentLocation",
            {
                "component": ref("FileComponent", component_id),
                "location_id": SERVER_LOCATION_ID,
                "resource_identifier": component_id,
            },
        ),
    )
    rows = query(
        server,
        "select location_id, resource_identifier from ComponentLocation"
        f' where component_id is "{component_id}"',
    )
    assert [(row["location_id"], row["resource_identifier"]) for row in rows] == [
        (SERVER_LOCATION_ID, component_id)
    ]


@pytest.mark.parametrize(
    "link",
    [lambda asset_id: {"asset": ref("Asset", asset_id)}, lambda asset_id: {"asset_id": asset_id}],
    ids=["asset-reference", "asset-id"],
)
def test_asset_version_of_asset_created_earlier_in_batch_gets_default_status(
    server: ServerProcess, project_id: str, link: Callable[[str], dict[str, Any]]
) -> None:
    # Clients commit a new Asset and its first AssetVersion together, without a status.
    asset_id = new_id()
    asset_type_id = query(server, "select id from AssetType limit 1")[0]["id"]
    asset = {"id": asset_id, "name": "hero", "context_id": project_id, "type_id": asset_type_id}
    created = run(server, create_op("Asset", asset), create_op("AssetVersion", link(asset_id)))
    assert created[1]["data"]["status_id"]


def test_reference_to_entity_created_later_in_batch_is_accepted(
    server: ServerProcess, project_id: str
) -> None:
    sequence_id, shot_id = new_id(), new_id()
    run(
        server,
        create_op("Shot", {"id": shot_id, "name": "sh010", "parent": ref("Sequence", sequence_id)}),
        create_op(
            "Sequence", {"id": sequence_id, "name": "sq010", "parent": ref("Project", project_id)}
        ),
    )
    assert [
        row["parent_id"]
        for row in query(server, f'select parent_id from Shot where id is "{shot_id}"')
    ] == [sequence_id]


def test_results_come_back_in_operation_order(server: ServerProcess, project_id: str) -> None:
    first, second = new_id(), new_id()
    names = [unique("a"), unique("b")]
    body = run(
        server,
        create_op("Task", {"id": first, "name": names[0], "parent": ref("Project", project_id)}),
        create_op("Task", {"id": second, "name": names[1], "parent": ref("Project", project_id)}),
        update_op("Task", first, {"description": "first"}),
        query_op(f'select name from Task where id is "{second}"'),
        delete_op("Task", second),
    )
    assert [result["action"] for result in body] == [
        "create",
        "create",
        "update",
        "query",
        "delete",
    ]
    assert [body[0]["data"]["id"], body[1]["data"]["id"], body[2]["data"]["id"]] == [
        first,
        second,
        first,
    ]
    assert [row["name"] for row in body[3]["data"]] == [names[1]]
    assert body[4]["data"] is True


def test_bare_information_results_keep_their_position(server: ServerProcess) -> None:
    body = run(
        server,
        query_op("select id from ProjectSchema limit 1"),
        {"action": "query_server_information"},
        {"action": "query_schemas"},
    )
    assert body[0]["action"] == "query"
    assert "schema_hash" in body[1]
    assert isinstance(body[2], list)


def test_update_result_carries_key_and_changed_attribute(
    server: ServerProcess, world: World
) -> None:
    data = run(server, update_op("Task", world.task_id, {"name": "renamed"}))[0]["data"]
    assert (data["__entity_type__"], data["id"], data["name"]) == ("Task", world.task_id, "renamed")


@pytest.fixture
def three_tasks(server: ServerProcess, project_id: str) -> str:
    """A project holding exactly three Tasks; returns the project id."""
    for name in ("t1", "t2", "t3"):
        new_task(server, project_id, name)
    return project_id


@pytest.mark.parametrize(
    ("paging", "rows", "next_offset"),
    [
        ("limit 10", 3, None),
        ("offset 1 limit 10", 2, None),
        ("offset 5 limit 2", 0, None),
        ("limit 2", 2, 2),
        ("offset 1 limit 1", 1, 2),
    ],
    ids=[
        "short-page",
        "short-page-after-offset",
        "empty-page-past-the-end",
        "full-page-with-more-rows",
        "full-page-after-offset-with-more-rows",
    ],
)
def test_query_next_offset_is_null_on_short_page_and_offset_plus_limit_on_full(
    server: ServerProcess, three_tasks: str, paging: str, rows: int, next_offset: int | None
) -> None:
    result = run(
        server, query_op(f'select id from Task where parent_id is "{three_tasks}" {paging}')
    )[0]
    assert len(result["data"]) == rows
    assert result["metadata"]["next"]["offset"] == next_offset


def test_strict_header_does_not_change_a_successful_batch(server: ServerProcess) -> None:
    body = results(server.call([query_op("select id from ProjectSchema limit 1")], **STRICT))
    assert body[0]["action"] == "query"
