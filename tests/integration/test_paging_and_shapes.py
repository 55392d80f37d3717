"""Responses have the shapes recorded from a real ftrack server, and paging ends correctly."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import official_session
from tests.conftest import ServerProcess
from tests.integration.conftest import (
    TASK_OBJECT_TYPE_ID,
    create_op,
    new_id,
    new_project,
    new_task,
    query,
    query_op,
    ref,
    run,
)

FIXTURES = Path("/work/shared/reference/ftrack/fixtures")
REFERENCE_SCHEMA_HASH = "23a1157b8b1730fd91c76f63dcd67a8f"
DATETIME_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")

# The recorded query results, named as the JS client's mock server looks them up.
FIXTURE_EXPRESSIONS = [
    "select name from Task limit 1",
    "select name, created_at from Task limit 1",
    "select status.state.short from Task where status.state.short is NOT_STARTED limit 1",
    "select status.state.short from Task where status.state.short is NOT_STARTED limit 2",
    "select version, asset.versions.version from AssetVersion where asset_id is_not None limit 1",
]
TASK_EXPRESSIONS = [expression for expression in FIXTURE_EXPRESSIONS if " from Task " in expression]


def fixture_name(expression: str) -> str:
    return f"query_{expression.lower().replace(' ', '_')}.json"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and value types, lists as the set of item shapes."""
    if isinstance(value, dict):
        return ("object", tuple(sorted((key, shape(item)) for key, item in value.items())))
    if isinstance(value, list):
        return ("array", tuple(sorted({shape(item) for item in value}, key=repr)))
    return type(value).__name__


@dataclass
class Dataset:
    """The only Tasks in this module's database, and an Asset with three versions."""

    project_id: str
    task_ids: list[str]
    asset_id: str
    version_ids: list[str]


@pytest.fixture(scope="module")
def dataset(server: ServerProcess) -> Dataset:
    project_id = new_project(server)
    # Three Tasks with the default status, so that a page of two is full and shares one status.
    task_ids = [new_task(server, project_id, name) for name in ("layout", "anim", "comp")]
    asset_type_id = query(server, "select id from AssetType limit 1")[0]["id"]
    status_id = query(server, "select id from Status limit 1")[0]["id"]
    asset_id, version_ids = new_id(), [new_id() for _ in range(3)]
    run(
        server,
        create_op(
            "Asset",
            {
                "id": asset_id,
                "name": "hero",
                "parent": ref("Project", project_id),
                "type_id": asset_type_id,
            },
        ),
        *(
            create_op(
                "AssetVersion", {"id": version_id, "asset_id": asset_id, "status_id": status_id}
            )
            for version_id in version_ids
        ),
    )
    return Dataset(project_id, task_ids, asset_id, version_ids)


@pytest.mark.parametrize("expression", FIXTURE_EXPRESSIONS, ids=FIXTURE_EXPRESSIONS)
def test_query_result_has_the_recorded_shape(
    server: ServerProcess, dataset: Dataset, expression: str
) -> None:
    recorded = fixture(fixture_name(expression))
    assert shape(run(server, query_op(expression))[0]) == shape(recorded)


@pytest.mark.parametrize("expression", TASK_EXPRESSIONS, ids=TASK_EXPRESSIONS)
def test_task_rows_carry_system_keys(
    server: ServerProcess, dataset: Dataset, expression: str
) -> None:
    rows = run(server, query_op(expression))[0]["data"]
    assert rows
    for row in rows:
        assert row["__entity_type__"] == "Task"
        assert row["context_type"] == "task"
        assert row["project_id"] == dataset.project_id
        assert row["object_type_id"] == TASK_OBJECT_TYPE_ID
        assert row["id"] in dataset.task_ids


def test_datetime_is_encoded_as_naive_seconds(server: ServerProcess, dataset: Dataset) -> None:
    row = query(server, "select name, created_at from Task limit 1")[0]
    assert set(row["created_at"]) == {"__type__", "value"}
    assert row["created_at"]["__type__"] == "datetime"
    assert DATETIME_VALUE.match(row["created_at"]["value"]), row["created_at"]


def test_shared_status_is_written_in_full_only_at_first_occurrence(
    server: ServerProcess, dataset: Dataset
) -> None:
    rows = query(
        server,
        "select status.state.short from Task"
        f' where status.state.short is NOT_STARTED and parent_id is "{dataset.project_id}"',
    )
    first, *later = (row["status"] for row in rows)
    assert first["state"]["short"] == "NOT_STARTED"
    assert later and all(status == ref("Status", first["id"]) for status in later)


def test_entity_repeated_inside_its_own_projection_is_a_bare_reference(
    server: ServerProcess, dataset: Dataset
) -> None:
    first = dataset.version_ids[0]
    row = query(
        server, f'select version, asset.versions.version from AssetVersion where id is "{first}"'
    )[0]
    versions = {version["id"]: version for version in row["asset"]["versions"]}
    assert versions.pop(first) == ref("AssetVersion", first)
    assert set(dataset.version_ids[1:]) <= set(versions)
    assert all({"version", "asset_id"} <= set(version) for version in versions.values())


def test_denormalize_option_writes_every_occurrence_in_full(
    server: ServerProcess, dataset: Dataset
) -> None:
    result = server.call(
        [
            query_op(
                f'select status.state.short from Task where parent_id is "{dataset.project_id}"'
            )
        ],
        **{"ftrack-api-options": "strict=1;denormalize=1"},
    )
    statuses = [row["status"] for row in result.json()[0]["data"]]
    assert len(statuses) == 3
    assert all(status["state"]["short"] == "NOT_STARTED" for status in statuses)


def test_asset_versions_are_numbered_in_creation_order(
    server: ServerProcess, dataset: Dataset
) -> None:
    rows = query(server, f'select version from AssetVersion where asset_id is "{dataset.asset_id}"')
    numbers = {row["id"]: row["version"] for row in rows}
    assert [numbers[version_id] for version_id in dataset.version_ids] == [1, 2, 3]


def test_asset_version_created_without_status_gets_a_default_status(
    server: ServerProcess, dataset: Dataset
) -> None:
    version_id = new_id()
    created = run(
        server, create_op("AssetVersion", {"id": version_id, "asset_id": dataset.asset_id})
    )
    assert created[0]["data"]["status_id"]


def test_create_user_result_has_the_recorded_keys_and_types(server: ServerProcess) -> None:
    recorded = fixture("create_user.json")
    sent = {
        "id": new_id(),
        "username": new_id(),
        "first_name": "first",
        "last_name": "last",
        "is_active": False,
    }
    result = run(server, create_op("User", sent))[0]
    assert result["action"] == recorded["action"]
    actual = {key: shape(value) for key, value in result["data"].items()}
    differences = {
        key: (shape(value), actual.get(key, "missing"))
        for key, value in recorded["data"].items()
        if actual.get(key) != shape(value)
    }
    assert differences == {}


def test_create_user_result_echoes_what_was_sent(server: ServerProcess) -> None:
    sent = {
        "id": new_id(),
        "username": new_id(),
        "first_name": "f",
        "last_name": "l",
        "is_active": True,
    }
    data = run(server, create_op("User", sent))[0]["data"]
    assert {key: data[key] for key in sent} == sent
    assert (data["__entity_type__"], data["resource_type"]) == ("User", "user")


@pytest.fixture(scope="module")
def server_information(server: ServerProcess) -> dict[str, Any]:
    return dict(run(server, {"action": "query_server_information"})[0])


def version_is_accepted_by_python_client(version: str) -> bool:
    # Mirrors ftrack_api.Session.check_server_compatibility.
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return version == "dev" or not found or tuple(map(int, found.groups())) >= (3, 3, 11)


def test_server_information_version_is_accepted_by_python_client(
    server_information: dict[str, Any],
) -> None:
    assert isinstance(server_information["version"], str)
    assert version_is_accepted_by_python_client(server_information["version"])


def test_server_information_schema_hash_equals_reference(
    server_information: dict[str, Any],
) -> None:
    assert server_information["schema_hash"] == REFERENCE_SCHEMA_HASH


def test_server_information_storage_scenario_has_name_and_data(
    server_information: dict[str, Any],
) -> None:
    scenario = server_information["storage_scenario"]
    assert isinstance(scenario["scenario"], str) and isinstance(scenario["data"], dict)


def test_server_information_enables_timezone_support(server_information: dict[str, Any]) -> None:
    assert server_information["is_timezone_support_enabled"] is True


def test_server_information_returns_requested_values(server: ServerProcess) -> None:
    information = run(server, {"action": "query_server_information", "values": ["version"]})[0]
    assert "version" in information


@pytest.fixture(scope="module")
def schemas(server: ServerProcess) -> list[dict[str, Any]]:
    return list(run(server, {"action": "query_schemas"})[0])


def test_query_schemas_returns_116_types(schemas: list[dict[str, Any]]) -> None:
    assert len(schemas) == 116


def test_query_schemas_has_the_reference_type_ids(schemas: list[dict[str, Any]]) -> None:
    assert {schema["id"] for schema in schemas} == {
        schema["id"] for schema in fixture("query_schemas.json")
    }


def test_schema_hash_is_md5_of_the_schemas_it_serves(
    schemas: list[dict[str, Any]], server_information: dict[str, Any]
) -> None:
    digest = hashlib.md5(json.dumps(schemas, sort_keys=True).encode()).hexdigest()
    assert digest == server_information["schema_hash"]


@pytest.fixture(scope="module")
def five_sequences(server: ServerProcess) -> tuple[str, list[str]]:
    project_id = new_project(server)
    ids = [new_id() for _ in range(5)]
    run(
        server,
        *(
            create_op(
                "Sequence",
                {"id": sequence_id, "name": f"sq{index:03d}", "parent": ref("Project", project_id)},
            )
            for index, sequence_id in enumerate(ids)
        ),
    )
    return project_id, ids


@pytest.mark.parametrize("page_size", [1, 2, 5, 7], ids=["page-1", "page-2", "page-5", "page-7"])
def test_official_client_pages_through_every_row_once(
    server: ServerProcess, five_sequences: tuple[str, list[str]], page_size: int
) -> None:
    project_id, ids = five_sequences
    with official_session(server) as session:
        found = session.query(
            f'Sequence where parent_id is "{project_id}"', page_size=page_size
        ).all()
        assert sorted(sequence["id"] for sequence in found) == sorted(ids)


@pytest.mark.parametrize("offset", [0, 2, 4], ids=["from-start", "from-middle", "last-row"])
def test_following_next_offset_ends_with_null(
    server: ServerProcess, five_sequences: tuple[str, list[str]], offset: int
) -> None:
    project_id, ids = five_sequences
    seen: list[str] = []
    expression = f'select id from Sequence where parent_id is "{project_id}"'
    next_offset: int | None = offset
    while next_offset is not None:
        result = run(server, query_op(f"{expression} offset {next_offset} limit 2"))[0]
        assert result["data"] or result["metadata"]["next"]["offset"] is None
        seen.extend(row["id"] for row in result["data"])
        next_offset = result["metadata"]["next"]["offset"]
    assert len(seen) == len(set(seen)) == len(ids) - offset


def test_query_without_limit_returns_every_row(
    server: ServerProcess, five_sequences: tuple[str, list[str]]
) -> None:
    project_id, ids = five_sequences
    result = run(server, query_op(f'select id from Sequence where parent_id is "{project_id}"'))[0]
    assert sorted(row["id"] for row in result["data"]) == sorted(ids)
    assert result["metadata"]["next"]["offset"] is None
