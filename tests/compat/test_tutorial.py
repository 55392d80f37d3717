"""The official client's tutorial flow, run unchanged against shotbase."""

from __future__ import annotations

import uuid
from typing import Any

import ftrack_api
import ftrack_api.exception
import pytest

from tests.compat.conftest import official_session
from tests.conftest import ServerProcess


def make_project(session: Any) -> Any:
    schema = session.query("ProjectSchema").first()
    name = f"proj_{uuid.uuid4().hex[:8]}"
    project = session.create(
        "Project", {"name": name, "full_name": name.upper(), "project_schema": schema}
    )
    session.commit()
    return project


def test_session_knows_all_116_types(session: Any) -> None:
    assert len(session.types) == 116
    assert {"Shot", "TypedContext", "FileComponent", "Metadata"} <= set(session.types)


def test_created_project_is_listed_by_a_fresh_session(server: ServerProcess, session: Any) -> None:
    project = make_project(session)
    with official_session(server) as fresh:
        names = [p["name"] for p in fresh.query("Project").all()]
    assert project["name"] in names


def test_sequence_created_with_parent_reads_back(server: ServerProcess, session: Any) -> None:
    project = make_project(session)
    sequence = session.create("Sequence", {"name": "sq010", "parent": project})
    session.commit()
    with official_session(server) as fresh:
        found = fresh.query(f'Sequence where id is "{sequence["id"]}"').one()
        assert found["name"] == "sq010"
        assert found["parent"]["id"] == project["id"]
        assert found["project"]["id"] == project["id"]
        assert found["status"]["state"]["short"] == "NOT_STARTED"


def test_sequence_appended_to_children_gets_its_parent(server: ServerProcess, session: Any) -> None:
    project = make_project(session)
    sequence = session.create("Sequence", {"name": "sq020"})
    project["children"].append(sequence)
    session.commit()
    with official_session(server) as fresh:
        loaded = fresh.get("Project", project["id"])
        children = list(loaded["children"])
        assert [child["name"] for child in children] == ["sq020"]
        assert children[0]["parent"] is loaded


def test_attributes_set_and_committed_read_back(server: ServerProcess, session: Any) -> None:
    project = make_project(session)
    task = session.create("Task", {"name": "anim", "parent": project})
    session.commit()
    task["description"] = "Blocking pass"
    task["bid"] = 14400.0
    session.commit()
    with official_session(server) as fresh:
        loaded = fresh.get("Task", task["id"])
        assert loaded["description"] == "Blocking pass"
        assert loaded["bid"] == 14400.0


def test_ensure_creates_once(session: Any) -> None:
    project = make_project(session)
    first = session.ensure("Sequence", {"name": "sq030", "parent_id": project["id"]})
    second = session.ensure("Sequence", {"name": "sq030", "parent_id": project["id"]})
    assert first["id"] == second["id"]
    count = len(session.query(f'Sequence where parent_id is "{project["id"]}"').all())
    assert count == 1


def test_deleting_a_project_deletes_its_tree(server: ServerProcess, session: Any) -> None:
    project = make_project(session)
    sequence = session.create("Sequence", {"name": "sq010", "parent": project})
    shot = session.create("Shot", {"name": "sh010", "parent": sequence})
    session.create("Task", {"name": "comp", "parent": shot})
    session.commit()
    session.delete(project)
    session.commit()
    with official_session(server) as fresh:
        left = fresh.query(f'TypedContext where project_id is "{project["id"]}"').all()
        assert left == []
        assert fresh.query(f'Project where id is "{project["id"]}"').all() == []


def test_query_on_closed_session_raises_connection_closed(server: ServerProcess) -> None:
    with official_session(server) as closed:
        pass
    with pytest.raises(ftrack_api.exception.ConnectionClosedError):
        closed.query("Project").all()


def test_wrong_api_key_fails_at_session_creation(server: ServerProcess) -> None:
    with pytest.raises(ftrack_api.exception.ServerError, match="InvalidCredentialsError"):
        ftrack_api.Session(
            server_url=server.url,
            api_key="not-a-key",
            api_user=server.api_user,
            schema_cache_path=False,
            auto_connect_event_hub=False,
        )
