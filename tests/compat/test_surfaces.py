"""One scenario suite, run with the official ftrack client and with shotbase.Session.

Each scenario only uses the documented surface, so passing with both clients shows that
scripts observe the same behaviour. Exceptions are compared by class name, since each
client has its own exception classes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shotbase.client import Session
from tests.compat.conftest import official_session
from tests.conftest import ServerProcess

Opener = Callable[[], Any]


def shotbase_session(server: ServerProcess) -> Session:
    return Session(
        server.url, api_key=server.api_key, api_user=server.api_user, schema_cache_path=False
    )


@pytest.fixture(params=["official", "shotbase"])
def opener(request: pytest.FixtureRequest, server: ServerProcess) -> Iterator[Opener]:
    """Opens sessions of one client kind; every session opened is closed afterwards."""
    opened: list[Any] = []

    def open_session() -> Any:
        if request.param == "official":
            session = official_session(server)
        else:
            session = shotbase_session(server)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.close()


def raises_named(name: str, call: Callable[[], Any]) -> None:
    with pytest.raises(Exception) as caught:  # noqa: B017 - compared by class name below
        call()
    assert type(caught.value).__name__ == name


def make_tree(session: Any) -> tuple[Any, Any, Any, Any]:
    schema = session.query("ProjectSchema").first()
    name = f"proj_{uuid.uuid4().hex[:8]}"
    project = session.create(
        "Project", {"name": name, "full_name": name.upper(), "project_schema": schema}
    )
    sequence = session.create("Sequence", {"name": "sq01", "parent": project})
    shot = session.create("Shot", {"name": "sh010", "parent": sequence})
    task = session.create("Task", {"name": "comp", "parent": shot})
    session.commit()
    return project, sequence, shot, task


def test_created_hierarchy_is_queried_with_projections(opener: Opener) -> None:
    session = opener()
    project, _, shot, task = make_tree(session)
    fresh = opener()
    projection = "select name, parent.name, parent.parent.name from Task"
    tasks = fresh.query(f'{projection} where project_id is "{project["id"]}"').all()
    assert [(t["name"], t["parent"]["name"], t["parent"]["parent"]["name"]) for t in tasks] == [
        ("comp", "sh010", "sq01")
    ]
    assert tasks[0]["parent"]["id"] == shot["id"] and tasks[0]["id"] == task["id"]
    assert tasks[0] == fresh.get("Task", task["id"])
    assert fresh.get("Task", str(uuid.uuid4())) is None


def test_query_result_members(opener: Opener) -> None:
    session = opener()
    project, sequence, _, _ = make_tree(session)
    session.create("Shot", {"name": "sh020", "parent": sequence})
    session.commit()
    expression = f'Shot where project_id is "{project["id"]}" order by name'
    result = session.query(expression)
    assert len(result) == 2
    assert [shot["name"] for shot in result] == ["sh010", "sh020"]
    assert result[1]["name"] == "sh020"
    assert session.query(expression).first()["name"] == "sh010"
    raises_named("MultipleResultsFoundError", lambda: session.query(expression).one())
    raises_named("NoResultFoundError", lambda: session.query('Shot where name is "nothing"').one())


def test_populate_loads_attributes(opener: Opener) -> None:
    session = opener()
    project, _, _, _ = make_tree(session)
    fresh = opener()
    shots = fresh.query(f'select id from Shot where project_id is "{project["id"]}"').all()
    fresh.populate(shots, "name, description")
    with fresh.auto_populating(False):
        assert [(shot["name"], shot["description"]) for shot in shots] == [("sh010", None)]


def test_ensure_creates_finds_and_updates(opener: Opener) -> None:
    session = opener()
    project, _, _, _ = make_tree(session)
    data = {"name": "sq_ensure", "parent_id": project["id"]}
    created = session.ensure("Sequence", data)
    assert session.ensure("Sequence", data)["id"] == created["id"]
    updated = session.ensure("Sequence", {**data, "description": "d"}, ["name", "parent_id"])
    assert updated["id"] == created["id"] and updated["description"] == "d"
    raises_named("ValueError", lambda: session.ensure("Sequence", {}))
    raises_named("KeyError", lambda: session.ensure("Sequence", data, ["missing"]))


def test_metadata_set_change_and_remove(opener: Opener) -> None:
    session = opener()
    _, _, shot, _ = make_tree(session)
    shot["metadata"]["fps"] = "24"
    session.commit()
    shot["metadata"]["fps"] = "25"
    shot["metadata"]["lens"] = "35mm"
    session.commit()
    assert dict(opener().get("Shot", shot["id"])["metadata"]) == {"fps": "25", "lens": "35mm"}
    del shot["metadata"]["fps"]
    session.commit()
    assert dict(opener().get("Shot", shot["id"])["metadata"]) == {"lens": "35mm"}


def test_update_is_seen_by_a_new_session(opener: Opener) -> None:
    session = opener()
    _, _, shot, _ = make_tree(session)
    shot["description"] = "hero shot"
    shot["name"] = "sh011"
    session.commit()
    fresh = opener().get("Shot", shot["id"])
    assert (fresh["name"], fresh["description"]) == ("sh011", "hero shot")


def test_delete_removes_the_entity(opener: Opener) -> None:
    session = opener()
    _, _, _, task = make_tree(session)
    task_id = task["id"]
    session.delete(task)
    session.commit()
    assert opener().get("Task", task_id) is None


def test_rollback_drops_uncommitted_changes(opener: Opener) -> None:
    session = opener()
    _, sequence, shot, _ = make_tree(session)
    shot["name"] = "changed"
    new_id = session.create("Shot", {"name": "new", "parent": sequence})["id"]
    session.rollback()
    session.commit()
    assert shot["name"] == "sh010"
    fresh = opener()
    assert fresh.get("Shot", new_id) is None
    assert fresh.get("Shot", shot["id"])["name"] == "sh010"


def test_entity_dict_surface(opener: Opener) -> None:
    session = opener()
    _, _, shot, _ = make_tree(session)
    assert "name" in shot.keys() and shot.get("name") == "sh010"
    assert shot.entity_type == "Shot"
    assert list(shot.primary_key_attributes) == ["id"]
    raises_named("KeyError", lambda: shot["no_such_attribute"])


def test_closed_session_refuses_calls(opener: Opener) -> None:
    session = opener()
    session.close()
    assert session.closed
    raises_named("ConnectionClosedError", lambda: session.query("Project").all())


def disk_location(session: Any, root: Path) -> Any:
    """A new location on ``root`` with the accessor class each client ships."""
    location = session.create("Location", {"name": f"disk.{uuid.uuid4().hex[:8]}"})
    session.commit()
    if isinstance(session, Session):
        from shotbase.storage.accessor.disk import DiskAccessor
        from shotbase.storage.structure import IdStructure
    else:
        from ftrack_api.accessor.disk import DiskAccessor  # type: ignore[no-redef]
        from ftrack_api.structure.id import IdStructure  # type: ignore[no-redef]
    location.accessor = DiskAccessor(str(root))
    location.structure = IdStructure()
    location.priority = 1
    return location


def test_components_in_locations(opener: Opener, tmp_path: Path) -> None:
    session = opener()
    frames = tmp_path / "frames"
    frames.mkdir()
    for frame in (1, 2, 3, 5):
        (frames / f"f.{frame:04d}.exr").write_bytes(b"x" * (100 + frame))
    (tmp_path / "disk").mkdir()
    location = disk_location(session, tmp_path / "disk")
    server = session.query('Location where name is "ftrack.server"').one()

    sequence = session.create_component(f"{frames}/f.%04d.exr [1-3, 5]", location=location)
    assert sequence.entity_type == "SequenceComponent"
    assert (sequence["size"], sequence["padding"], sequence["file_type"]) == (411, 4, ".exr")
    names = sorted(member["name"] for member in sequence["members"])
    assert names == ["0001", "0002", "0003", "0005"]
    assert session.pick_location() == location
    assert session.pick_location(sequence) == location
    assert location.get_component_availability(sequence) == 100.0
    assert session.get_component_availability(sequence)[server["id"]] == 0.0
    raises_named(
        "ComponentInLocationError",
        lambda: location.add_component(sequence, session.get("Location", server["id"])),
    )

    member = sorted(sequence["members"], key=lambda each: each["name"])[0]
    path = location.get_filesystem_path(member)
    assert Path(path).read_bytes() == b"x" * 101
    location.remove_component(sequence)
    assert location.get_component_availability(sequence) == 0.0
    raises_named("ComponentNotInLocationError", lambda: location.get_resource_identifier(member))
    fresh = opener()
    again = fresh.get("SequenceComponent", sequence["id"])
    assert len(again["members"]) == 4
