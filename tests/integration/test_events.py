"""The event hub end to end: our client against a real server process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from shotbase.client.event_hub import EventHub
from shotbase.events import Event
from tests.conftest import ServerProcess, free_port, stop_server
from tests.integration.events_helpers import (
    DEADLINE,
    collect,
    emit,
    our_hub,
    ours_ready,
    pump,
    raw_socket,
    receive_non_heartbeat,
    restartable_server,
    subscribe_raw,
)


@pytest.fixture
def hubs(server: ServerProcess) -> Iterator[tuple[EventHub, EventHub]]:
    first, second = our_hub(server), our_hub(server)
    yield first, second
    first.disconnect()
    second.disconnect()


def topic() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


def test_published_event_reaches_a_subscriber_on_another_connection(
    hubs: tuple[EventHub, EventHub],
) -> None:
    publisher, subscriber = hubs
    name = topic()
    received = collect(subscriber, f"topic={name}")
    ours_ready(subscriber)

    publisher.publish(Event(name, data={"shot": "sh010"}))

    pump([subscriber], lambda: bool(received))
    assert received[0].data == {"shot": "sh010"}
    assert received[0].source["user"]["username"] == "admin"


def test_only_matching_subscriptions_receive(hubs: tuple[EventHub, EventHub]) -> None:
    publisher, subscriber = hubs
    name = topic()
    wanted = collect(subscriber, f"topic={name} and data.kind=wanted")
    everything = collect(subscriber, f"topic={name}")
    ours_ready(subscriber)

    for kind in ("other", "wanted", "last"):
        publisher.publish(Event(name, data={"kind": kind}))

    pump([subscriber], lambda: len(everything) == 3)
    assert [event.data["kind"] for event in wanted] == ["wanted"]


def test_reply_reaches_the_publisher(hubs: tuple[EventHub, EventHub]) -> None:
    publisher, responder = hubs
    name = topic()
    responder.subscribe(f"topic={name}", lambda event: {"answer": event.data["question"] * 2})
    ours_ready(responder)
    replies: list[Event] = []

    sent = Event(name, data={"question": 21})
    publisher.publish(sent, on_reply=replies.append)

    pump([publisher, responder], lambda: bool(replies))
    assert replies[0].data == {"answer": 42}
    assert replies[0].in_reply_to_event == sent.id


def test_targeted_event_reaches_only_the_targeted_subscriber(
    hubs: tuple[EventHub, EventHub],
) -> None:
    publisher, subscriber = hubs
    name = topic()
    targeted: list[Event] = []
    untargeted: list[Event] = []
    subscriber.subscribe(f"topic={name}", targeted.append, {"id": "a", "role": "render"})
    subscriber.subscribe(f"topic={name}", untargeted.append, {"id": "b", "role": "ui"})
    ours_ready(subscriber)

    publisher.publish(Event(name, target="role=render", data={"n": 1}))
    publisher.publish(Event(name, data={"n": 2}))

    pump([subscriber], lambda: len(untargeted) == 1 and len(targeted) == 2)
    assert [event.data["n"] for event in targeted] == [1, 2]


def test_priorities_order_handlers_and_stop_ends_the_chain(
    hubs: tuple[EventHub, EventHub],
) -> None:
    publisher, subscriber = hubs
    name = topic()
    calls: list[str] = []

    def first(event: Event) -> None:
        calls.append("first")
        event.stop()

    subscriber.subscribe(f"topic={name}", lambda event: calls.append("late"), priority=200)
    subscriber.subscribe(f"topic={name}", first, priority=10)
    ours_ready(subscriber)

    publisher.publish(Event(name))

    pump([subscriber], lambda: bool(calls))
    assert calls == ["first"]


def test_unsubscribed_handler_receives_nothing_more(hubs: tuple[EventHub, EventHub]) -> None:
    publisher, subscriber = hubs
    name = topic()
    gone = collect(subscriber, f"topic={name}")
    kept = collect(subscriber, f"topic={name}")
    with subscriber.subscription(f"topic={name}", lambda event: None) as identifier:
        assert subscriber.get_subscriber_by_identifier(identifier) is not None
    subscriber.unsubscribe(subscriber._subscribers[1].id)
    ours_ready(subscriber)

    publisher.publish(Event(name))

    pump([subscriber], lambda: bool(kept))
    assert gone == []


def test_source_user_is_the_authenticated_user(hubs: tuple[EventHub, EventHub]) -> None:
    publisher, subscriber = hubs
    name = topic()
    received = collect(subscriber, f"topic={name}")
    ours_ready(subscriber)

    publisher.publish(Event(name, source={"user": {"username": "someone-else"}}))

    pump([subscriber], lambda: bool(received))
    assert received[0].source["user"]["username"] == "admin"


def test_synchronous_publish_runs_local_handlers_only(hubs: tuple[EventHub, EventHub]) -> None:
    publisher, _ = hubs
    publisher.subscribe("topic=test.local", lambda event: event.data["x"] + 1)
    publisher.subscribe("topic=ftrack.api.session.ready", lambda event: "ready")

    assert publisher.publish(Event("test.local", data={"x": 1}), synchronous=True) == [2]
    assert publisher.publish(Event("ftrack.api.session.ready")) == ["ready"]


def test_publish_while_disconnected_raises_unless_ignored(server: ServerProcess) -> None:
    from shotbase.client.event_hub import EventHubConnectionError

    hub = EventHub(server.url, server.api_user, server.api_key)

    with pytest.raises(EventHubConnectionError):
        hub.publish(Event("test.x"))
    assert hub.publish(Event("test.x"), on_error="ignore") is None


def test_connect_with_wrong_key_fails_with_a_connection_error(server: ServerProcess) -> None:
    from shotbase.client.event_hub import EventHubConnectionError

    hub = EventHub(server.url, server.api_user, "wrong")

    with pytest.raises(EventHubConnectionError, match="refused"):
        hub.connect()
    assert not hub.connected


# Server-published ftrack.update --------------------------------------------------------------


def project_op(name: str, project_id: str, schema_id: str) -> dict[str, Any]:
    return {
        "action": "create",
        "entity_type": "Project",
        "entity_data": {
            "id": project_id,
            "name": name,
            "full_name": name,
            "project_schema": {"__entity_type__": "ProjectSchema", "id": schema_id},
        },
    }


def schema_id(server: ServerProcess) -> str:
    answer = server.call([{"action": "query", "expression": "select id from ProjectSchema"}])
    return str(answer.json()[0]["data"][0]["id"])


def test_commit_publishes_ftrack_update_with_changes_and_parents(
    server: ServerProcess, hubs: tuple[EventHub, EventHub]
) -> None:
    _, listener = hubs
    updates = collect(listener, "topic=ftrack.update")
    ours_ready(listener)
    project_id, shot_id = str(uuid.uuid4()), str(uuid.uuid4())
    name = f"p{uuid.uuid4().hex[:8]}"
    shot = {
        "id": shot_id,
        "name": "sh010",
        "parent": {"__entity_type__": "Project", "id": project_id},
    }

    created = server.call(
        [
            project_op(name, project_id, schema_id(server)),
            {"action": "create", "entity_type": "Shot", "entity_data": shot},
        ],
        **{"ftrack-clienttoken": "token-1"},
    )
    assert created.status_code == 200, created.text
    server.call(
        [
            {
                "action": "update",
                "entity_type": "Shot",
                "entity_key": [shot_id],
                "entity_data": {"name": "sh020"},
            }
        ]
    )
    server.call([{"action": "delete", "entity_type": "Shot", "entity_key": [shot_id]}])

    pump([listener], lambda: len(updates) == 3)
    add, update, remove = (event.data for event in updates)
    assert [e["action"] for e in add["entities"]] == ["add", "add"]
    assert add["clientToken"] == "token-1"
    added_shot = add["entities"][1]
    assert (added_shot["entityType"], added_shot["entity_type"]) == ("task", "Shot")
    assert [p["entityId"] for p in added_shot["parents"]] == [shot_id, project_id]
    assert added_shot["parents"][-1]["entityType"] == "show"
    changed = update["entities"][0]
    assert (changed["action"], changed["entityId"], changed["keys"]) == (
        "update",
        shot_id,
        ["name"],
    )
    assert changed["changes"] == {"name": {"old": "sh010", "new": "sh020"}}
    assert remove["entities"][0]["action"] == "remove"
    assert remove["entities"][0]["changes"]["name"] == {"old": "sh020", "new": None}
    assert updates[0].source["user"]["username"] == "admin"


def test_failed_batch_publishes_no_update(
    server: ServerProcess, hubs: tuple[EventHub, EventHub]
) -> None:
    _, listener = hubs
    updates = collect(listener, "topic=ftrack.update")
    ours_ready(listener)
    schema = schema_id(server)
    doomed, kept = str(uuid.uuid4()), str(uuid.uuid4())
    missing = {
        "action": "update",
        "entity_type": "Shot",
        "entity_key": [str(uuid.uuid4())],
        "entity_data": {"name": "x"},
    }

    failed = server.call([project_op(f"p{doomed[:8]}", doomed, schema), missing])
    assert "exception" in failed.json()
    server.call([project_op(f"p{kept[:8]}", kept, schema)])

    pump([listener], lambda: bool(updates))
    assert [e.data["entities"][0]["entityId"] for e in updates] == [kept]


def test_query_only_batch_publishes_no_update(
    server: ServerProcess, hubs: tuple[EventHub, EventHub]
) -> None:
    _, listener = hubs
    updates = collect(listener, "topic=ftrack.update")
    ours_ready(listener)
    kept = str(uuid.uuid4())

    server.call([{"action": "query", "expression": "select id from Project"}])
    server.call([project_op(f"p{kept[:8]}", kept, schema_id(server))])

    pump([listener], lambda: bool(updates))
    assert [e.data["entities"][0]["entityId"] for e in updates] == [kept]


# Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "packet",
    [
        "",
        "garbage",
        "9::",
        "5:1+::{not json",
        "5:2+::[]",
        '5:3+::{"args": [1, 2]}',
        '5:4+::{"args": [{"no": "topic"}]}',
        "6:::x",
        "3:::hello",
        "2:::",
        '5:5+::{"args": [{"topic": "ftrack.meta.subscribe", "data": '
        '{"subscriber": {"id": "s"}, "subscription": "topic=(("}}]}',
        b"\xff\xfe\x00 not text",
    ],
    ids=[
        "empty",
        "garbage",
        "unknown-type",
        "bad-json",
        "not-object",
        "two-args",
        "no-topic",
        "stray-ack",
        "message",
        "heartbeat",
        "bad-subscription",
        "binary-garbage",
    ],
)
def test_malformed_packet_leaves_the_connection_and_others_working(
    server: ServerProcess, hubs: tuple[EventHub, EventHub], packet: str | bytes
) -> None:
    publisher, subscriber = hubs
    name = topic()
    received = collect(subscriber, f"topic={name}")
    ours_ready(subscriber)
    socket = raw_socket(server)
    try:
        subscribe_raw(socket, f"topic={name}")
        socket.send(packet)
        publisher.publish(Event(name))

        pump([subscriber], lambda: bool(received))
        answer = receive_non_heartbeat(socket)
        while not answer.startswith("5:::"):
            assert answer.startswith(("6:::", "7:::")), answer
            answer = receive_non_heartbeat(socket)
        assert name in answer
    finally:
        socket.close()


def test_oversized_event_is_refused_and_the_connection_stays(server: ServerProcess) -> None:
    socket = raw_socket(server)
    try:
        name = topic()
        subscribe_raw(socket, f"topic={name}")
        emit(socket, {"topic": name, "data": {"blob": "x" * (2 * 1024 * 1024)}}, 2)
        refusal = receive_non_heartbeat(socket)
        emit(socket, {"topic": name, "data": {"small": True}}, 3)

        assert refusal.startswith("6:::2+") and '"success":false' in refusal
        assert receive_non_heartbeat(socket).startswith("5:::")
        assert receive_non_heartbeat(socket) == '6:::3+[{"success":true}]'
    finally:
        socket.close()


def test_message_over_the_websocket_limit_closes_only_that_connection(
    server: ServerProcess, hubs: tuple[EventHub, EventHub]
) -> None:
    publisher, subscriber = hubs
    name = topic()
    received = collect(subscriber, f"topic={name}")
    ours_ready(subscriber)
    socket = raw_socket(server)
    try:
        with pytest.raises(ConnectionClosed):  # the server closes it (1009, message too big)
            emit(socket, {"topic": name, "data": {"blob": "x" * (17 * 1024 * 1024)}})
            while True:
                socket.recv(timeout=DEADLINE)
    finally:
        socket.close()

    publisher.publish(Event(name))
    pump([subscriber], lambda: bool(received))


def peak_memory_mib(server: ServerProcess) -> float:
    """The server process's peak resident memory so far."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def test_subscriber_that_never_reads_is_dropped_memory_stays_bounded_and_others_receive(
    database_url: str, tmp_path: Path
) -> None:
    server = restartable_server(tmp_path, database_url, free_port())  # its own memory
    publisher, subscriber = our_hub(server), our_hub(server)
    idle = raw_socket(server)
    name = topic()
    received = collect(subscriber, f"topic={name}")
    ours_ready(subscriber)
    blob = "x" * (512 * 1024)
    count = 240  # 120 MiB: far more than the send queue (16 MiB) and the socket buffers hold
    try:
        for _ in range(8):  # the memory one event in flight takes is part of the baseline
            publisher.publish(Event(name, data={"n": -1, "blob": blob}))
        pump([subscriber], lambda: len(received) == 8)
        received.clear()
        before = peak_memory_mib(server)
        subscribe_raw(idle, f"topic={name}")

        for number in range(count):
            publisher.publish(Event(name, data={"n": number, "blob": blob}))
        pump([subscriber], lambda: len(received) == count, timeout=120)

        assert [event.data["n"] for event in received] == list(range(count))
        with pytest.raises(ConnectionClosed):  # the server dropped the idle socket
            while True:
                idle.recv(timeout=DEADLINE)
        growth = peak_memory_mib(server) - before
        assert growth < 64, f"peak memory grew by {growth:.0f} MiB"
        assert server.call([{"action": "query", "expression": "select id from Project"}]).is_success
    finally:
        idle.close()
        publisher.disconnect()
        subscriber.disconnect()
        stop_server(server)


# Handshake -----------------------------------------------------------------------------------


def test_handshake_takes_query_credentials_as_the_javascript_client_sends(
    server: ServerProcess,
) -> None:
    params = {"api_user": server.api_user, "api_key": server.api_key}
    answer = httpx.get(f"{server.url}/socket.io/1/", params=params, timeout=10)

    sid, heartbeat, close, transports = answer.text.split(":")
    assert answer.status_code == 200
    assert len(sid) == 32 and int(heartbeat) >= 60 and int(close) >= 60
    assert transports == "websocket"


def test_handshake_with_wrong_credentials_is_refused_in_the_wire_shape(
    server: ServerProcess,
) -> None:
    headers = {"ftrack-user": server.api_user, "ftrack-api-key": "wrong"}
    answer = httpx.get(f"{server.url}/socket.io/1/", headers=headers, timeout=10)

    assert answer.status_code == 401
    assert answer.json()["exception"] == "InvalidCredentialsError"


def test_socket_with_unknown_session_and_no_credentials_is_refused(server: ServerProcess) -> None:
    url = server.url.replace("http", "ws", 1) + "/socket.io/1/websocket/unknown"

    with pytest.raises(InvalidStatus):
        connect(url, open_timeout=10, legacy=True)
