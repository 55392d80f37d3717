"""shotbase.Session against real server processes (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from shotbase.client import Session
from shotbase.client.location import ORIGIN_LOCATION_ID
from shotbase.errors import (
    AuthenticationError,
    ConnectionFailedError,
    DuplicateEntityError,
    QuerySyntaxError,
)
from shotbase.storage.accessor.disk import DiskAccessor
from shotbase.storage.structure import IdStructure
from tests.conftest import ServerProcess, free_port
from tests.integration.events_helpers import collect, our_hub, ours_ready, pump
from tests.unit.client.conftest import make_tree


def open_session(server: ServerProcess, **options) -> Session:
    options.setdefault("schema_cache_path", False)
    return Session(server.url, api_key=server.api_key, api_user=server.api_user, **options)


def test_round_trip_through_http(server: ServerProcess) -> None:
    with open_session(server) as session:
        project, _, shot, task = make_tree(session)
    with open_session(server) as other:
        found = other.query(
            f'select name, parent.name from Task where project_id is "{project["id"]}"'
        ).one()
        assert (found["name"], found["parent"]["name"]) == ("comp", "sh010")
        assert found == task and other.get("Shot", shot["id"]) is found["parent"]


def test_environment_variables_configure_the_session(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTRACK_SERVER", server.url)
    monkeypatch.setenv("FTRACK_API_KEY", server.api_key)
    monkeypatch.setenv("SHOTBASE_API_USER", server.api_user)
    monkeypatch.setenv("FTRACK_API_SCHEMA_CACHE_PATH", "")

    with Session(schema_cache_path=False) as session:
        assert (session.server_url, session.api_user) == (server.url, server.api_user)


def test_wrong_key_raises_authentication_error(server: ServerProcess) -> None:
    with pytest.raises(AuthenticationError):
        Session(server.url, api_key="wrong", api_user=server.api_user, schema_cache_path=False)


def test_unreachable_server_says_what_failed_and_where() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ConnectionFailedError, match=f"POST {url}/api failed"):
        Session(url, api_key="k", api_user="u", schema_cache_path=False)


@pytest.mark.parametrize("strict_api", [False, True], ids=["lenient", "strict"])
def test_server_errors_are_rebuilt_in_both_api_modes(
    server: ServerProcess, strict_api: bool
) -> None:
    with open_session(server, strict_api=strict_api) as session:
        with pytest.raises(QuerySyntaxError) as caught:
            session.query("Shot wher name is 1").all()
        assert caught.value.code == "query.syntax"
        project, _, _, _ = make_tree(session)
        session.create(
            "Project",
            {
                "id": project["id"],
                "name": "x",
                "full_name": "x",
                "project_schema": project["project_schema"],
            },
        )
        with pytest.raises(DuplicateEntityError):
            session.commit()
        session.rollback()


def test_schemas_are_cached_on_disk_by_hash(server: ServerProcess, tmp_path: Path) -> None:
    with open_session(server, schema_cache_path=str(tmp_path)) as first:
        schema_hash = first.server_information["schema_hash"]
    cached = tmp_path / f"shotbase-schemas-{schema_hash}.json"
    assert cached.exists()
    # A trimmed copy under the same hash proves the second session reads the file.
    cached.write_bytes(orjson.dumps(orjson.loads(cached.read_bytes())[:3]))
    with open_session(server, schema_cache_path=str(tmp_path)) as second:
        assert len(second.types) == 3


def test_location_changes_are_published_to_other_sessions(
    server: ServerProcess, tmp_path: Path
) -> None:
    listener = our_hub(server)
    added = collect(listener, "topic=ftrack.location.component-added")
    removed = collect(listener, "topic=ftrack.location.component-removed")
    ours_ready(listener)
    source = tmp_path / "plate.exr"
    source.write_bytes(b"pixels")
    with open_session(server, auto_connect_event_hub=True) as session:
        location: Any = session.create("Location", {"name": f"disk.{tmp_path.name}"})
        session.commit()
        location.accessor = DiskAccessor(tmp_path / "disk")
        location.structure = IdStructure()
        (tmp_path / "disk").mkdir()

        component = session.create_component(str(source), location=location)
        location.remove_component(component)
        session.event_hub.flush()

        pump([listener], lambda: len(added) == 2 and bool(removed))
    expected = {"component_id": component["id"], "location_id": location["id"]}
    origin = {"component_id": component["id"], "location_id": ORIGIN_LOCATION_ID}
    assert [event.data for event in added] == [origin, expected]
    assert [event.data for event in removed] == [expected]
    listener.disconnect()
