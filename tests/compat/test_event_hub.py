"""The official client's event hub against shotbase, alone and with our client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ftrack_api.event.base
import pytest

from shotbase.client.event_hub import EventHub
from shotbase.events import Event
from tests.compat.conftest import official_session
from tests.conftest import ServerProcess, free_port, start_server, stop_server
from tests.integration.events_helpers import (
    official_ready,
    our_hub,
    ours_ready,
    pump,
    restartable_server,
)

# The official hub retries every 10 seconds after losing the server; a restart takes a few.
RECONNECT_DEADLINE = 90.0


@pytest.fixture
def officials(server: ServerProcess) -> Iterator[tuple[Any, Any]]:
    first = official_session(server, auto_connect_event_hub=True)
    second = official_session(server)
    second.event_hub.connect()
    pump([], lambda: first.event_hub.connected)
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def ours(server: ServerProcess) -> Iterator[EventHub]:
    hub = our_hub(server)
    yield hub
    hub.disconnect()


def topic() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


def test_official_to_official_with_reply(officials: tuple[Any, Any]) -> None:
    publisher, responder = officials
    name = topic()
    received: list[Any] = []

    def handler(event: Any) -> dict[str, Any]:
        received.append(event)
        return {"echo": event["data"]["text"]}

    responder.event_hub.subscribe(f"topic={name} and data.text=hello", handler)
    official_ready(responder.event_hub)
    replies: list[Any] = []

    publisher.event_hub.publish(
        ftrack_api.event.base.Event(name, data={"text": "hello"}), on_reply=replies.append
    )

    pump([publisher.event_hub, responder.event_hub], lambda: bool(replies))
    assert replies[0]["data"] == {"echo": "hello"}
    assert received[0]["source"]["user"]["username"] == "admin"


def test_official_publishes_and_ours_replies(officials: tuple[Any, Any], ours: EventHub) -> None:
    official, _ = officials
    name = topic()
    ours.subscribe(f"topic={name}", lambda event: {"from": "shotbase", "n": event.data["n"]})
    ours_ready(ours)
    replies: list[Any] = []

    official.event_hub.publish(
        ftrack_api.event.base.Event(name, data={"n": 7}), on_reply=replies.append
    )

    pump([official.event_hub, ours], lambda: bool(replies))
    assert replies[0]["data"] == {"from": "shotbase", "n": 7}


def test_ours_publishes_and_official_replies(officials: tuple[Any, Any], ours: EventHub) -> None:
    official, _ = officials
    name = topic()
    official.event_hub.subscribe(f"topic={name}", lambda event: {"from": "official"})
    official_ready(official.event_hub)
    replies: list[Event] = []

    ours.publish(Event(name), on_reply=replies.append)

    pump([official.event_hub, ours], lambda: bool(replies))
    assert replies[0].data == {"from": "official"}


def test_official_receives_ftrack_update_after_commit(officials: tuple[Any, Any]) -> None:
    writer, listener = officials
    updates: list[Any] = []
    listener.event_hub.subscribe("topic=ftrack.update", updates.append)
    official_ready(listener.event_hub)

    project = writer.create(
        "Project",
        {
            "name": f"p{uuid.uuid4().hex[:8]}",
            "full_name": "Events",
            "project_schema": writer.query("ProjectSchema").first(),
        },
    )
    writer.commit()

    pump([listener.event_hub], lambda: bool(updates))
    entity = updates[0]["data"]["entities"][0]
    assert (entity["entityId"], entity["action"], entity["entityType"]) == (
        project["id"],
        "add",
        "show",
    )


def test_action_discover_and_launch_between_sessions(officials: tuple[Any, Any]) -> None:
    ui, plugin = officials
    username = "admin"
    identifier = f"my-action-{uuid.uuid4().hex[:6]}"
    launched: list[Any] = []

    def discover(event: Any) -> dict[str, Any]:
        return {"items": [{"label": "My action", "actionIdentifier": identifier}]}

    def launch(event: Any) -> dict[str, Any]:
        launched.append(event)
        return {"success": True, "message": "Launched."}

    plugin.event_hub.subscribe(
        f"topic=ftrack.action.discover and source.user.username={username}", discover
    )
    plugin.event_hub.subscribe(
        f"topic=ftrack.action.launch and data.actionIdentifier={identifier} and "
        f'source.user.username="{username}"',
        launch,
    )
    official_ready(plugin.event_hub)
    discovered: list[Any] = []
    results: list[Any] = []
    selection = [{"entityId": "e1", "entityType": "task"}]

    ui.event_hub.publish(
        ftrack_api.event.base.Event("ftrack.action.discover", data={"selection": selection}),
        on_reply=discovered.append,
    )
    pump([ui.event_hub, plugin.event_hub], lambda: bool(discovered))
    item = discovered[0]["data"]["items"][0]
    ui.event_hub.publish(
        ftrack_api.event.base.Event(
            "ftrack.action.launch",
            data={"actionIdentifier": item["actionIdentifier"], "selection": selection},
        ),
        on_reply=results.append,
    )

    pump([ui.event_hub, plugin.event_hub], lambda: bool(results))
    assert results[0]["data"] == {"success": True, "message": "Launched."}
    assert launched[0]["data"]["selection"] == selection


def test_targeted_event_skips_official_subscribers_not_targeted(
    officials: tuple[Any, Any], ours: EventHub
) -> None:
    official, _ = officials
    name = topic()
    official_events: list[Any] = []
    official.event_hub.subscribe(
        f"topic={name}", official_events.append, subscriber={"applicationId": "official"}
    )
    official_ready(official.event_hub)

    ours.publish(Event(name, target="applicationId=somebody-else", data={"n": 1}))
    ours.publish(Event(name, target="applicationId=official", data={"n": 2}))

    pump([official.event_hub], lambda: bool(official_events))
    assert [event["data"]["n"] for event in official_events] == [2]


@pytest.mark.slow
def test_official_hub_reconnects_after_the_server_restarts_and_keeps_receiving(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    server = restartable_server(tmp_path, database_url, port)
    session = official_session(server)
    hub = session.event_hub
    try:
        connects: list[Any] = []
        received: list[Any] = []
        name = topic()
        hub.subscribe("topic=ftrack.meta.connected", connects.append)
        hub.subscribe(f"topic={name}", received.append)
        hub.connect()
        official_ready(hub)
        pump([hub], lambda: len(connects) == 1)

        stop_server(server)
        api_key = server.api_key
        server = start_server(tmp_path, database_url, port=port)
        server.api_key = api_key
        pump([hub], lambda: len(connects) == 2, timeout=RECONNECT_DEADLINE)
        official_ready(hub)
        publisher = our_hub(server)
        publisher.publish(Event(name, data={"after": "restart"}))

        pump([hub], lambda: bool(received))
        publisher.disconnect()
        assert hub.connected
        assert received[0]["data"] == {"after": "restart"}
    finally:
        session.close()
        stop_server(server)
