"""Everyday pipeline operations through the official client: metadata, versions, notes."""

from __future__ import annotations

from typing import Any

from tests.compat.conftest import official_session
from tests.compat.test_tutorial import make_project
from tests.conftest import ServerProcess


def make_task(session: Any) -> tuple[Any, Any, Any]:
    project = make_project(session)
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    task = session.create("Task", {"name": "comp", "parent": shot})
    session.commit()
    return project, shot, task


def test_metadata_can_be_set_changed_and_removed(server: ServerProcess, session: Any) -> None:
    _, shot, _ = make_task(session)
    shot["metadata"]["fps"] = "24"
    session.commit()
    shot["metadata"]["fps"] = "25"
    shot["metadata"]["lens"] = "35mm"
    session.commit()
    with official_session(server) as fresh:
        assert dict(fresh.get("Shot", shot["id"])["metadata"]) == {"fps": "25", "lens": "35mm"}
    del shot["metadata"]["fps"]
    session.commit()
    with official_session(server) as fresh:
        assert dict(fresh.get("Shot", shot["id"])["metadata"]) == {"lens": "35mm"}
        found = fresh.query(
            f'Shot where metadata any (key is "lens" and value is "35mm") and id is "{shot["id"]}"'
        ).all()
        assert [entity["id"] for entity in found] == [shot["id"]]


def test_versions_are_numbered_per_asset_and_get_a_status(session: Any) -> None:
    _, shot, task = make_task(session)
    asset_type = session.query('AssetType where short is "geo"').one()
    asset = session.create("Asset", {"name": "hero", "type": asset_type, "parent": shot})
    first = session.create("AssetVersion", {"asset": asset, "task": task})
    second = session.create("AssetVersion", {"asset": asset, "task": task})
    session.commit()
    assert (first["version"], second["version"]) == (1, 2)
    assert first["status"]["name"] == "Pending review"
    assert asset["latest_version"]["id"] == second["id"]
    assert [link["type"] for link in first["link"]] == [
        "Project",
        "TypedContext",
        "Asset",
        "AssetVersion",
    ]


def test_note_created_on_a_task_is_listed_with_its_author(
    server: ServerProcess, session: Any
) -> None:
    _, _, task = make_task(session)
    user = session.query(f'User where username is "{server.api_user}"').one()
    task.create_note("Looks good", author=user)
    session.commit()
    with official_session(server) as fresh:
        notes = fresh.get("Task", task["id"])["notes"]
        assert [(note["content"], note["author"]["username"]) for note in notes] == [
            ("Looks good", server.api_user)
        ]


def test_items_loads_every_attribute_including_computed_ones(session: Any) -> None:
    project, shot, task = make_task(session)
    values = dict(task.items())
    assert values["time_logged"] == 0.0
    assert values["thumbnail_url"]["url"].endswith("/img/thumbnail2.png")
    assert [entity["id"] for entity in values["ancestors"]] == [shot["id"]]
    assert [step["id"] for step in values["link"]] == [project["id"], shot["id"], task["id"]]
    assert [entity["id"] for entity in shot["descendants"]] == [task["id"]]


def test_populate_loads_nested_attributes_for_many_entities(
    server: ServerProcess, session: Any
) -> None:
    project, shot, task = make_task(session)
    with official_session(server) as fresh:
        tasks = fresh.query(f'Task where project_id is "{project["id"]}"').all()
        fresh.populate(tasks, "name, parent.name, status.state.short")
        assert [(t["name"], t["parent"]["name"], t["status"]["state"]["short"]) for t in tasks] == [
            ("comp", "sh010", "NOT_STARTED")
        ]


def test_status_changes_via_reference(server: ServerProcess, session: Any) -> None:
    _, _, task = make_task(session)
    approved = session.query('Status where name is "Approved"').one()
    task["status"] = approved
    session.commit()
    with official_session(server) as fresh:
        assert fresh.get("Task", task["id"])["status"]["name"] == "Approved"
        done = fresh.query(
            f'Task where status.state.short is "DONE" and id is "{task["id"]}"'
        ).all()
        assert len(done) == 1
