"""Benchmark: event hub publish -> receive latency and sustained throughput, against Redis.

Subscribers and the publisher are raw socket.io 0.9 WebSocket clients in one asyncio process
(the wire the official clients speak), so the client side costs little and the same for every
configuration. For 1, 10 and 100 subscribers it measures:

* **latency** - one event at a time: the time from sending the event packet to its arrival at
  each subscriber; p50 and p99 over every (event, subscriber) pair.
* **throughput** - ``--events`` events sent back to back without acknowledgements: events per
  second until the last subscriber has received the last event (each event reaches every
  subscriber).

Configurations: **one process** (in-process broker); **two processes over Redis** (subscribers
on server A, publisher on server B, both ``--redis``); and **bare Redis** pub/sub with the same
number of subscriber connections, the floor. Ratios are against the floor.

Usage: ``.venv/bin/python bench/events.py [--subscribers 1,10,100] [--rounds 300]
[--events 5000] [--redis redis://127.0.0.1:6379/0]``. Goals: p50 under 5 ms on loopback,
5,000 events/s to 10 subscribers, within 3x of the Redis floor.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio
from harness import Server, free_port, machine, stop_server
from websockets.asyncio.client import ClientConnection, connect

TOPIC = "bench.events"


@dataclass
class Result:
    """One configuration's figures."""

    name: str
    subscribers: int
    p50_ms: float
    p99_ms: float
    events_per_second: float


# Servers -------------------------------------------------------------------------------------


def start(data_dir: Path, api_key: str = "", *extra: str) -> Server:
    """Start ``shotbase serve`` (on SQLite in ``data_dir``) and wait until it answers."""
    port = free_port()
    command = [sys.executable, "-m", "shotbase.cli", "serve", "--data", str(data_dir)]
    command += ["--port", str(port), "--log-level", "warning", *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"api key: (\S+)", line)
        api_key = found.group(1) if found else api_key
        if "serving on" in line:
            break
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Server(url, api_key, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("shotbase serve did not start")


# Event hub clients ---------------------------------------------------------------------------


async def open_socket(server: Server) -> ClientConnection:
    """A socket.io WebSocket past the handshake."""
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{server.url}/socket.io/1/", headers=server.headers())
    sid = answer.text.split(":")[0]
    url = server.url.replace("http", "ws", 1) + f"/socket.io/1/websocket/{sid}"
    socket = await connect(url, max_size=None, ping_interval=None, compression=None)
    assert await socket.recv() == "1::"
    return socket


def event_packet(event: dict[str, Any], ack: str = "") -> str:
    return f"5:{ack}::" + orjson.dumps({"name": "ftrack.event", "args": [event]}).decode()


async def subscribe(socket: ClientConnection) -> None:
    data = {"subscriber": {"id": uuid.uuid4().hex}, "subscription": f"topic={TOPIC}"}
    await socket.send(event_packet({"topic": "ftrack.meta.subscribe", "data": data}, "1+"))
    while not str(await socket.recv()).startswith("6:::1+"):
        pass


async def hub_reader(socket: ClientConnection, on_sequence: Callable[[int], None]) -> None:
    """Read event packets, reporting each event's sequence number; answer heartbeats."""
    async for message in socket:
        text = str(message)
        if text.startswith("5:::"):
            event = orjson.loads(text[4:])["args"][0]
            on_sequence(event["data"]["n"])
        elif text.startswith("2:"):
            await socket.send("2::")


async def run_hub(
    publish_on: Server, subscribe_on: Server, count: int, rounds: int, events: int, name: str
) -> Result:
    subscribers = [await open_socket(subscribe_on) for _ in range(count)]
    for socket in subscribers:
        await subscribe(socket)
    publisher = await open_socket(publish_on)

    async def send(sequence: int) -> None:
        await publisher.send(event_packet({"topic": TOPIC, "data": {"n": sequence}}))

    try:
        return await measure(name, count, subscribers, send, hub_reader, rounds, events)
    finally:
        for socket in [*subscribers, publisher]:
            await socket.close()


# Bare Redis ----------------------------------------------------------------------------------


async def run_redis(url: str, count: int, rounds: int, events: int) -> Result:
    channel = f"bench.{uuid.uuid4().hex}"
    clients: list[Any] = [redis.asyncio.Redis.from_url(url) for _ in range(count)]
    pubsubs = [client.pubsub(ignore_subscribe_messages=True) for client in clients]
    for pubsub in pubsubs:
        await pubsub.subscribe(channel)
    publisher: Any = redis.asyncio.Redis.from_url(url)

    async def send(sequence: int) -> None:
        await publisher.publish(channel, orjson.dumps({"topic": TOPIC, "data": {"n": sequence}}))

    async def send_many(sequences: range) -> None:
        # Pipelined, as the server's Redis broker publishes: the floor is Redis, not round trips.
        for start in range(sequences.start, sequences.stop, 500):
            async with publisher.pipeline(transaction=False) as pipeline:
                for sequence in range(start, min(start + 500, sequences.stop)):
                    event = {"topic": TOPIC, "data": {"n": sequence}}
                    pipeline.publish(channel, orjson.dumps(event))
                await pipeline.execute()

    async def reader(pubsub: Any, on_sequence: Callable[[int], None]) -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                on_sequence(orjson.loads(message["data"])["data"]["n"])

    try:
        return await measure(
            "bare Redis pub/sub", count, pubsubs, send, reader, rounds, events, send_many
        )
    finally:
        for pubsub in pubsubs:
            await pubsub.aclose()
        for client in [*clients, publisher]:
            await client.aclose()


# Measuring -----------------------------------------------------------------------------------


async def measure(
    name: str,
    count: int,
    receivers: list[Any],
    send: Callable[[int], Awaitable[None]],
    reader: Callable[[Any, Callable[[int], None]], Coroutine[Any, Any, None]],
    rounds: int,
    events: int,
    send_many: Callable[[range], Awaitable[None]] | None = None,
) -> Result:
    """Latency over ``rounds`` single events, then throughput over ``events`` back to back."""
    arrivals: dict[int, int] = {}
    latencies: list[float] = []
    sent_at: dict[int, float] = {}
    done: dict[int, asyncio.Event] = {}

    def on_sequence(sequence: int) -> None:
        now = time.perf_counter()
        arrivals[sequence] = arrivals.get(sequence, 0) + 1
        if sequence in sent_at:
            latencies.append(now - sent_at[sequence])
        if arrivals[sequence] == count and sequence in done:
            done[sequence].set()

    tasks = [asyncio.create_task(reader(receiver, on_sequence)) for receiver in receivers]
    try:
        for sequence in range(rounds):
            done[sequence] = asyncio.Event()
            sent_at[sequence] = time.perf_counter()
            await send(sequence)
            await asyncio.wait_for(done[sequence].wait(), 30)
        sent_at.clear()
        last = rounds + events - 1
        done[last] = asyncio.Event()
        started = time.perf_counter()
        if send_many is not None:
            await send_many(range(rounds, last + 1))
        else:
            for sequence in range(rounds, last + 1):
                await send(sequence)
        await asyncio.wait_for(done[last].wait(), 300)
        elapsed = time.perf_counter() - started
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    return Result(
        name,
        count,
        statistics.median(ordered) * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        events / elapsed,
    )


# Report --------------------------------------------------------------------------------------


def table(results: list[Result]) -> str:
    floors = {r.subscribers: r for r in results if r.name == "bare Redis pub/sub"}
    lines = [
        "| configuration | subscribers | p50 ms | p99 ms | events/s "
        "| p50 / floor | floor events/s / this |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        floor = floors[r.subscribers]
        lines.append(
            f"| {r.name} | {r.subscribers} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.events_per_second:,.0f} | {r.p50_ms / floor.p50_ms:.1f}x | "
            f"{floor.events_per_second / r.events_per_second:.1f}x |"
        )
    return "\n".join(lines)


async def main_async(arguments: argparse.Namespace, workdir: Path) -> list[Result]:
    counts = [int(part) for part in arguments.subscribers.split(",")]
    results: list[Result] = []
    single = start(workdir / "single")
    first = start(workdir / "pair", "", "--redis", arguments.redis)
    second = start(workdir / "pair", first.api_key, "--redis", arguments.redis)
    try:
        for count in counts:
            results.append(
                await run_redis(arguments.redis, count, arguments.rounds, arguments.events)
            )
            results.append(
                await run_hub(
                    single, single, count, arguments.rounds, arguments.events, "one process"
                )
            )
            results.append(
                await run_hub(
                    second,
                    first,
                    count,
                    arguments.rounds,
                    arguments.events,
                    "two processes over Redis",
                )
            )
    finally:
        for server in (single, first, second):
            stop_server(server)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", default="1,10,100")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        results = asyncio.run(main_async(arguments, Path(workdir)))
    sys.stdout.write("\n".join(machine()) + "\n\n" + table(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
