"""Helpers for event hub tests: pumping hubs until a condition holds, raw sockets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from shotbase.client.event_hub import EventHub
from shotbase.events import Event
from tests.conftest import ServerProcess, start_server

DEADLINE = 20.0


def pump(hubs: Iterable[Any], until: Callable[[], bool], timeout: float = DEADLINE) -> None:
    """Let each hub (ours or official) handle events until ``until()`` holds; fail after
    ``timeout`` seconds."""
    hubs = list(hubs)
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        for hub in hubs:
            hub.wait(0.01)


def issue_key(data_dir: Path, database_url: str) -> str:
    """A new API key for the admin user of an existing database."""
    command = [sys.executable, "-m", "shotbase.cli", "user", "key", "admin"]
    command += ["--data", str(data_dir), "--database", database_url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def restartable_server(data_dir: Path, database_url: str, port: int) -> ServerProcess:
    """Start a server on ``port``, with an admin API key even when the database has a user."""
    server = start_server(data_dir, database_url, port=port)
    server.api_key = server.api_key or issue_key(data_dir, database_url)
    return server


def our_hub(server: ServerProcess, **options: Any) -> EventHub:
    """A connected shotbase event hub on ``server``."""
    hub = EventHub(server.url, server.api_user, server.api_key, **options)
    hub.connect()
    return hub


def official_ready(hub: Any) -> None:
    """Wait until the server has every subscription an official hub sent so far.

    The server handles one connection's packets in order, so once a probe published after
    the subscriptions comes back, they are registered.
    """
    topic = f"test.probe.{uuid.uuid4().hex}"
    seen: list[Any] = []
    identifier = hub.subscribe(f"topic={topic}", seen.append)
    import ftrack_api.event.base

    hub.publish(ftrack_api.event.base.Event(topic))
    pump([hub], lambda: bool(seen))
    hub.unsubscribe(identifier)


def ours_ready(hub: EventHub) -> None:
    """Wait until the server acknowledged everything our hub sent."""
    hub.flush(DEADLINE)


def raw_socket(server: ServerProcess) -> ClientConnection:
    """A raw socket.io WebSocket, past the handshake and the ``1::`` packet."""
    headers = {"ftrack-user": server.api_user, "ftrack-api-key": server.api_key}
    answer = httpx.get(f"{server.url}/socket.io/1/", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    sid = answer.text.split(":")[0]
    socket = connect(
        server.url.replace("http", "ws", 1) + f"/socket.io/1/websocket/{sid}",
        max_size=None,
        ping_interval=None,
        compression=None,  # so that large events fill the socket buffers as sent
        legacy=True,
    )
    assert socket.recv(timeout=10) == "1::"
    return socket


def emit(socket: ClientConnection, event: dict[str, Any], packet_id: int | None = None) -> None:
    """Send an event packet, asking for an ack when ``packet_id`` is given."""
    ack = "" if packet_id is None else f"{packet_id}+"
    socket.send(f"5:{ack}::" + json.dumps({"name": "ftrack.event", "args": [event]}))


def receive_non_heartbeat(socket: ClientConnection) -> str:
    """The next packet that is not a heartbeat."""
    while True:
        packet = socket.recv(timeout=DEADLINE)
        assert isinstance(packet, str)
        if packet != "2::":
            return packet


def subscribe_raw(socket: ClientConnection, subscription: str, packet_id: int = 1) -> None:
    """Subscribe a raw socket and wait for the ack."""
    subscriber = {"id": uuid.uuid4().hex}
    emit(
        socket,
        {
            "topic": "ftrack.meta.subscribe",
            "data": {"subscriber": subscriber, "subscription": subscription},
        },
        packet_id,
    )
    assert receive_non_heartbeat(socket) == f'6:::{packet_id}+[{{"success":true}}]'


def collect(hub: EventHub, subscription: str) -> list[Event]:
    """Subscribe ``hub`` and return the list the events land in."""
    received: list[Event] = []
    hub.subscribe(subscription, received.append)
    return received
