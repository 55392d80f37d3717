"""The event hub across server processes (Redis) and across a server restart."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shotbase.events import Event
from tests.conftest import ServerProcess, free_port, start_server, stop_server
from tests.integration.events_helpers import collect, our_hub, ours_ready, pump

REDIS_URL = "redis://127.0.0.1:6379/0"


def issue_key(data_dir: Path, database_url: str) -> str:
    """A new API key for the admin user of an existing database."""
    command = [sys.executable, "-m", "shotbase.cli", "user", "key", "admin"]
    command += ["--data", str(data_dir), "--database", database_url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def pair(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes on one database, sharing events through Redis."""
    data = tmp_path_factory.mktemp("data")
    first = start_server(data, database_url, "--redis", REDIS_URL)
    second = start_server(data, database_url, "--redis", REDIS_URL)
    second.api_key = first.api_key
    yield first, second
    stop_server(second)
    stop_server(first)


def test_subscriber_on_one_process_receives_what_another_publishes(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = pair
    listener, publisher = our_hub(first), our_hub(second)
    try:
        name = f"test.{uuid.uuid4().hex[:12]}"
        received = collect(listener, f"topic={name}")
        replies: list[Event] = []
        ours_ready(listener)
        listener.subscribe(f"topic={name}.ask", lambda event: {"pong": True})
        ours_ready(listener)

        publisher.publish(Event(name, data={"n": 1}))
        publisher.publish(Event(f"{name}.ask"), on_reply=replies.append)

        pump([listener, publisher], lambda: bool(received) and bool(replies))
        assert received[0].data == {"n": 1}
        assert replies[0].data == {"pong": True}
    finally:
        listener.disconnect()
        publisher.disconnect()


def test_commit_on_one_process_updates_listeners_on_another(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = pair
    listener = our_hub(first)
    try:
        updates = collect(listener, "topic=ftrack.update")
        ours_ready(listener)
        schema = second.call([{"action": "query", "expression": "select id from ProjectSchema"}])
        project_id = str(uuid.uuid4())
        data = {
            "id": project_id,
            "name": f"p{project_id[:8]}",
            "full_name": "P",
            "project_schema": {
                "__entity_type__": "ProjectSchema",
                "id": schema.json()[0]["data"][0]["id"],
            },
        }

        second.call([{"action": "create", "entity_type": "Project", "entity_data": data}])

        pump([listener], lambda: bool(updates))
        assert updates[0].data["entities"][0]["entityId"] == project_id
    finally:
        listener.disconnect()


def test_hub_reconnects_and_resubscribes_after_the_server_restarts(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    server = start_server(tmp_path, database_url, port=port)
    api_key = server.api_key or issue_key(tmp_path, database_url)
    server.api_key = api_key
    hub = our_hub(server, reconnect_attempts=200, reconnect_delay=0.1)
    try:
        connects = collect(hub, "topic=ftrack.meta.connected")
        name = f"test.{uuid.uuid4().hex[:12]}"
        received = collect(hub, f"topic={name}")
        pump([hub], lambda: len(connects) == 1)

        stop_server(server)
        server = start_server(tmp_path, database_url, port=port)
        server.api_key = api_key
        pump([hub], lambda: len(connects) == 2)
        ours_ready(hub)
        publisher = our_hub(server)
        publisher.publish(Event(name))

        pump([hub], lambda: bool(received))
        publisher.disconnect()
    finally:
        hub.disconnect()
        stop_server(server)
