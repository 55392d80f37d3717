"""The event hub across server processes (Redis) and across a server restart."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shotbase.events import Event
from shotbase.server.broker import RedisBroker
from tests.conftest import ServerProcess, free_port, start_server, stop_server
from tests.integration.events_helpers import (
    DEADLINE,
    collect,
    our_hub,
    ours_ready,
    pump,
    restartable_server,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


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
    server = restartable_server(tmp_path, database_url, port)
    hub = our_hub(server, reconnect_attempts=200, reconnect_delay=0.1)
    try:
        connects = collect(hub, "topic=ftrack.meta.connected")
        name = f"test.{uuid.uuid4().hex[:12]}"
        received = collect(hub, f"topic={name}")
        pump([hub], lambda: len(connects) == 1)

        stop_server(server)
        api_key = server.api_key
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


# The broker across a Redis restart -----------------------------------------------------------


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A private ``redis-server`` on ``port``, answering PING."""
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def stop_redis(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=30)


def test_broker_resubscribes_and_publishes_again_after_redis_restarts() -> None:
    port = free_port()
    redis = start_redis(port)
    received: list[dict[str, Any]] = []

    async def arrived(topic: str, within: float = DEADLINE) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if any(event["topic"] == topic for event in received):
                return True
            await asyncio.sleep(0.02)
        return False

    async def scenario() -> None:
        nonlocal redis
        broker = RedisBroker(f"redis://127.0.0.1:{port}/0")
        await broker.start(received.append)
        try:
            await broker.publish({"topic": "before"})
            assert await arrived("before")

            stop_redis(redis)
            redis = start_redis(port)
            # Events published while the broker reconnects are lost (and logged): publish
            # until one arrives through the new subscription.
            deadline = time.monotonic() + DEADLINE
            while True:
                await broker.publish({"topic": "after"})
                if await arrived("after", within=0.2):
                    break
                assert time.monotonic() < deadline, "no event arrived after Redis restarted"
        finally:
            await broker.close()

    try:
        asyncio.run(scenario())
    finally:
        stop_redis(redis)
