"""Helpers for driving a real server process with raw ``/api`` batches."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess

SERVER_LOCATION_ID = "3a372bde-05bc-11e4-8908-20c9d081909b"
TASK_OBJECT_TYPE_ID = "11c137c0-ee7e-4f9c-91c5-8c77cec22b2c"
STRICT = {"ftrack-strict-api": "true"}


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def new_id() -> str:
    """A fresh entity id in the form the official client sends."""
    return str(uuid.uuid4())


def ref(entity_type: str, entity_id: str) -> dict[str, str]:
    """A wire reference to an entity."""
    return {"__entity_type__": entity_type, "id": entity_id}


def create_op(entity_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A ``create`` operation."""
    return {"action": "create", "entity_type": entity_type, "entity_data": data}


def update_op(entity_type: str, entity_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """An ``update`` operation on one entity."""
    return {
        "action": "update",
        "entity_type": entity_type,
        "entity_key": [entity_id],
        "entity_data": data,
    }


def delete_op(entity_type: str, entity_id: str) -> dict[str, Any]:
    """A ``delete`` operation on one entity."""
    return {"action": "delete", "entity_type": entity_type, "entity_key": [entity_id]}


def query_op(expression: str) -> dict[str, Any]:
    """A ``query`` operation."""
    return {"action": "query", "expression": expression}


def results(response: httpx.Response) -> list[Any]:
    """The result array of a successful batch; fails the test on an error body."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list), body
    return body


def run(server: ServerProcess, *operations: dict[str, Any]) -> list[Any]:
    """Send one batch that must succeed and return its results."""
    return results(server.call(list(operations)))


def query(server: ServerProcess, expression: str) -> list[dict[str, Any]]:
    """The ``data`` of one query."""
    return list(run(server, query_op(expression))[0]["data"])


def query_all(server: ServerProcess, expression: str, page_size: int = 200) -> list[dict[str, Any]]:
    """Every row of a query, following ``metadata.next.offset`` like the official client."""
    rows: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        result = run(server, query_op(f"{expression} offset {offset} limit {page_size}"))[0]
        rows.extend(result["data"])
        offset = result["metadata"]["next"]["offset"]
    return rows


def project_schema_id(server: ServerProcess) -> str:
    """The id of a seeded ProjectSchema."""
    return str(query(server, "select id from ProjectSchema limit 1")[0]["id"])


def project_data(server: ServerProcess, **extra: Any) -> dict[str, Any]:
    """``entity_data`` for a valid new Project with a unique name."""
    name = unique("proj")
    return {
        "id": new_id(),
        "name": name,
        "full_name": name.upper(),
        "project_schema_id": project_schema_id(server),
        **extra,
    }


def new_project(server: ServerProcess) -> str:
    """Create a Project and return its id."""
    data = project_data(server)
    run(server, create_op("Project", data))
    return str(data["id"])


def new_task(server: ServerProcess, parent_id: str, name: str = "task") -> str:
    """Create a Task under ``parent_id`` and return its id."""
    task_id = new_id()
    parent = ref("Project", parent_id)
    run(server, create_op("Task", {"id": task_id, "name": name, "parent": parent}))
    return task_id


@pytest.fixture
def project_id(server: ServerProcess) -> str:
    """A new Project for one test."""
    return new_project(server)
