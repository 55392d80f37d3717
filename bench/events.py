"""Benchmark: event hub publish -> receive latency and sustained throughput, against Redis.

Subscribers and the publisher are lean clients in one asyncio process (uvloop when installed):
on the hub side a minimal socket.io 0.9 WebSocket client (the wire the official clients speak)
that parses frames itself; on the Redis side a minimal RESP client parsing with hiredis. Both
decode every event with orjson and cost about the same per delivery, so the figures show the
servers rather than a client library. For 1, 10 and 100 subscribers it measures:

* **latency** - one event at a time: the time from sending the event to its arrival at each
  subscriber; p50 and p99 over every (event, subscriber) pair.
* **throughput** - ``--events`` events sent back to back without acknowledgements: events per
  second until the last subscriber has received the last event (each event reaches every
  subscriber).

Configurations: **one process** (in-process broker); **two processes over Redis** (subscribers
on server A, publisher on server B, both ``--redis``); and **bare Redis** pub/sub with the same
number of subscriber connections, the floor. Ratios are against the floor. Every configuration
runs ``--repeat`` times, interleaved, and the table shows medians.

It then measures the **client hubs' receive path**: events/s that one hub (shotbase's
``EventHub`` or the official ``ftrack_api`` hub), subscribed on a one-process server, hands to
its handler when ``--client-events`` events are published back to back.

Usage: ``.venv/bin/python bench/events.py [--subscribers 1,10,100] [--rounds 300]
[--events 5000] [--repeat 3] [--client-events 5000] [--redis redis://127.0.0.1:6379/0]``.
Goals: p50 under 5 ms on loopback, 5,000 events/s to 10 subscribers, within 3x of the Redis
floor.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import hiredis
import httpx
import orjson
from harness import Server, free_port, machine, stop_server
from websockets.speedups import apply_mask

from shotbase.client.event_hub import EventHub

TOPIC = "bench.events"
FLOOR = "bare Redis pub/sub"
OnText = Callable[[bytes], None]
OnSequence = Callable[[int], None]


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
                threading.Thread(target=_drain, args=(process,), daemon=True).start()
                return Server(url, api_key, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("shotbase serve did not start")


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    with process.stdout:
        for _ in process.stdout:
            pass


# A lean socket.io 0.9 WebSocket client ----------------------------------------------------


class HubSocket(asyncio.Protocol):
    """One WebSocket to the hub: parses the server's (unmasked) frames, sends masked ones.

    Text packets go to ``on_text``; until it is set they wait in ``inbox``. Heartbeats and
    WebSocket pings are answered here.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.on_text: OnText | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buffer[: buffer.find(b"\r\n")]:
                self.upgraded.set_exception(RuntimeError(bytes(buffer[:200]).decode()))
                return
            del buffer[: end + 4]
            self.upgraded.set_result(None)
        position, size = 0, len(buffer)
        while size - position >= 2:
            opcode, length = buffer[position] & 0x0F, buffer[position + 1] & 0x7F
            start = position + 2
            if length >= 126 and size - start < (2 if length == 126 else 8):
                break
            if length == 126:
                (length,) = struct.unpack_from("!H", buffer, start)
                start += 2
            elif length == 127:
                (length,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            if start + length > size:
                break
            payload = bytes(buffer[start : start + length])
            position = start + length
            if opcode == 1:
                self.receive_text(payload)
            elif opcode == 9:
                self.send_frame(0x8A, payload)  # pong
        del buffer[:position]

    def receive_text(self, payload: bytes) -> None:
        if payload == b"2::":
            self.send_text("2::")
        elif self.on_text is not None:
            self.on_text(payload)
        else:
            self.inbox.put_nowait(payload)

    def send_text(self, text: str) -> None:
        self.send_frame(0x81, text.encode())

    def send_frame(self, first: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", first, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, length)
        mask = os.urandom(4)
        assert self.transport is not None
        self.transport.write(header + mask + apply_mask(payload, mask))

    async def receive(self) -> bytes:
        return await asyncio.wait_for(self.inbox.get(), 30)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_socket(server: Server, http: httpx.AsyncClient) -> HubSocket:
    """A hub socket past the socket.io handshake and its ``1::`` packet."""
    answer = await http.get(f"{server.url}/socket.io/1/", headers=server.headers())
    sid = answer.text.split(":")[0]
    parts = urlsplit(server.url)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /socket.io/1/websocket/{sid} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    _, socket = await loop.create_connection(lambda: HubSocket(request), host, port)
    await asyncio.wait_for(socket.upgraded, 30)
    assert await socket.receive() == b"1::"
    return socket


def bench_event(sequence: int) -> dict[str, Any]:
    """The event published: with an id, as the clients publish them."""
    return {"topic": TOPIC, "id": uuid.uuid4().hex, "data": {"n": sequence}}


def event_packet(event: dict[str, Any], ack: str = "") -> str:
    return f"5:{ack}::" + orjson.dumps({"name": "ftrack.event", "args": [event]}).decode()


async def subscribe(socket: HubSocket, subscription: str = f"topic={TOPIC}") -> None:
    data = {"subscriber": {"id": uuid.uuid4().hex}, "subscription": subscription}
    socket.send_text(event_packet({"topic": "ftrack.meta.subscribe", "data": data}, "1+"))
    while not (await socket.receive()).startswith(b"6:::1+"):
        pass


def hub_reader(socket: HubSocket, on_sequence: OnSequence) -> None:
    """Report each event packet's sequence number."""

    def on_text(payload: bytes) -> None:
        if payload.startswith(b"5:::"):
            on_sequence(orjson.loads(payload[4:])["args"][0]["data"]["n"])

    socket.on_text = on_text


async def run_hub(
    publish_on: Server, subscribe_on: Server, count: int, rounds: int, events: int, name: str
) -> Result:
    async with httpx.AsyncClient() as http:
        subscribers = [await open_socket(subscribe_on, http) for _ in range(count)]
        for socket in subscribers:
            await subscribe(socket)
        publisher = await open_socket(publish_on, http)

    def send(sequence: int) -> None:
        publisher.send_text(event_packet(bench_event(sequence)))

    try:
        return await measure(name, count, subscribers, send, hub_reader, rounds, events)
    finally:
        for socket in [*subscribers, publisher]:
            socket.close()


# A lean Redis client ---------------------------------------------------------------------


def resp(*parts: bytes) -> bytes:
    """A RESP command."""
    encoded = [b"*%d\r\n" % len(parts)]
    for part in parts:
        encoded.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(encoded)


class RedisSocket(asyncio.Protocol):
    """One Redis connection parsed by hiredis; messages go to ``on_message``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.replies: asyncio.Queue[Any] = asyncio.Queue()
        self.on_message: Callable[[bytes], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if isinstance(reply, list) and reply[0] == b"message" and self.on_message:
                self.on_message(reply[2])
            elif self.on_message is None:
                self.replies.put_nowait(reply)

    def send(self, *parts: bytes) -> None:
        assert self.transport is not None
        self.transport.write(resp(*parts))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_redis(url: str) -> RedisSocket:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, connection = await loop.create_connection(
        RedisSocket, parts.hostname or "127.0.0.1", parts.port or 6379
    )
    return connection


async def run_redis(url: str, count: int, rounds: int, events: int) -> Result:
    channel = f"bench.{uuid.uuid4().hex}".encode()
    subscribers = [await open_redis(url) for _ in range(count)]
    for subscriber in subscribers:
        subscriber.send(b"SUBSCRIBE", channel)
        await asyncio.wait_for(subscriber.replies.get(), 30)
    publisher = await open_redis(url)
    publisher.on_message = lambda data: None  # replies (receiver counts) are not waited for

    def send(sequence: int) -> None:
        publisher.send(b"PUBLISH", channel, orjson.dumps(bench_event(sequence)))

    def reader(subscriber: RedisSocket, on_sequence: OnSequence) -> None:
        subscriber.on_message = lambda data: on_sequence(orjson.loads(data)["data"]["n"])

    try:
        return await measure(FLOOR, count, subscribers, send, reader, rounds, events)
    finally:
        for connection in [*subscribers, publisher]:
            connection.close()


# Measuring -----------------------------------------------------------------------------------


async def measure(
    name: str,
    count: int,
    receivers: list[Any],
    send: Callable[[int], None],
    reader: Callable[[Any, OnSequence], None],
    rounds: int,
    events: int,
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

    for receiver in receivers:
        reader(receiver, on_sequence)
    for sequence in range(rounds):
        done[sequence] = asyncio.Event()
        sent_at[sequence] = time.perf_counter()
        send(sequence)
        await asyncio.wait_for(done[sequence].wait(), 30)
    sent_at.clear()
    last = rounds + events - 1
    done[last] = asyncio.Event()
    started = time.perf_counter()
    for sequence in range(rounds, last + 1):
        send(sequence)
        if sequence % 500 == 0:
            await asyncio.sleep(0)  # let the readers run while the publisher writes
    await asyncio.wait_for(done[last].wait(), 300)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return Result(
        name,
        count,
        statistics.median(ordered) * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        events / elapsed,
    )


# Client hubs' receive path -------------------------------------------------------------------


def receive_with_ours(server: Server, events: int, publish: Callable[[], None]) -> float:
    """Events/s our EventHub hands to its handler."""
    hub = EventHub(server.url, server.api_user, server.api_key)
    hub.connect()
    received: list[int] = []
    hub.subscribe(f"topic={TOPIC}", lambda event: received.append(event.data["n"]))
    hub.flush()
    try:
        started = time.perf_counter()
        publish()
        while len(received) < events:
            hub.wait(0.05)
        return events / (time.perf_counter() - started)
    finally:
        hub.disconnect()


def receive_with_official(server: Server, events: int, publish: Callable[[], None]) -> float:
    """Events/s the official client's hub hands to its handler."""
    import ftrack_api.event.base

    session = server.session()
    hub = session.event_hub
    hub.connect()
    received: list[int] = []
    probe = f"{TOPIC}.probe"
    hub.subscribe(f"topic={TOPIC}", lambda event: received.append(event["data"]["n"]))
    hub.subscribe(f"topic={probe}", lambda event: received.append(-1))
    hub.publish(ftrack_api.event.base.Event(probe))  # back once the subscriptions are in
    while not received:
        hub.wait(0.05)
    received.clear()
    try:
        started = time.perf_counter()
        publish()
        while len(received) < events:
            hub.wait(0.05)
        return events / (time.perf_counter() - started)
    finally:
        session.close()


async def run_clients(server: Server, events: int) -> list[tuple[str, float]]:
    async with httpx.AsyncClient() as http:
        publisher = await open_socket(server, http)
    loop = asyncio.get_running_loop()

    def publish() -> None:
        def send_all() -> None:
            for sequence in range(events):
                publisher.send_text(event_packet(bench_event(sequence)))

        loop.call_soon_threadsafe(send_all)

    try:
        ours = await asyncio.to_thread(receive_with_ours, server, events, publish)
        official = await asyncio.to_thread(receive_with_official, server, events, publish)
    finally:
        publisher.close()
    return [("shotbase EventHub", ours), ("ftrack_api 3.1.0 event hub", official)]


# Report --------------------------------------------------------------------------------------


def medians(runs: list[list[Result]]) -> list[Result]:
    """Each configuration's median figures over the runs."""
    merged: list[Result] = []
    for results in zip(*runs, strict=True):
        merged.append(
            Result(
                results[0].name,
                results[0].subscribers,
                statistics.median(r.p50_ms for r in results),
                statistics.median(r.p99_ms for r in results),
                statistics.median(r.events_per_second for r in results),
            )
        )
    return merged


def table(results: list[Result], runs: list[list[Result]]) -> str:
    floors = {r.subscribers: r for r in results if r.name == FLOOR}
    lines = [
        "| configuration | subscribers | p50 ms | p99 ms | events/s | events/s range "
        "| p50 / floor | floor events/s / this |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for index, r in enumerate(results):
        floor = floors[r.subscribers]
        rates = [run[index].events_per_second for run in runs]
        lines.append(
            f"| {r.name} | {r.subscribers} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.events_per_second:,.0f} | {min(rates):,.0f}-{max(rates):,.0f} | "
            f"{r.p50_ms / floor.p50_ms:.1f}x | "
            f"{floor.events_per_second / r.events_per_second:.1f}x |"
        )
    return "\n".join(lines)


async def measure_all(
    arguments: argparse.Namespace, single: Server, first: Server, second: Server
) -> list[Result]:
    results: list[Result] = []
    rounds, events = arguments.rounds, arguments.events
    for count in [int(part) for part in arguments.subscribers.split(",")]:
        results.append(await run_redis(arguments.redis, count, rounds, events))
        results.append(await run_hub(single, single, count, rounds, events, "one process"))
        name = "two processes over Redis"
        results.append(await run_hub(second, first, count, rounds, events, name))
    return results


def run_all(arguments: argparse.Namespace, workdir: Path) -> tuple[str, str]:
    single = start(workdir / "single")
    first = start(workdir / "pair", "", "--redis", arguments.redis)
    second = start(workdir / "pair", first.api_key, "--redis", arguments.redis)
    runs: list[list[Result]] = []
    clients: list[list[tuple[str, float]]] = []
    try:
        for _ in range(arguments.repeat):
            runs.append(_run(measure_all(arguments, single, first, second)))
        if arguments.client_events:
            for _ in range(arguments.repeat):
                clients.append(_run(run_clients(single, arguments.client_events)))
    finally:
        for server in (single, first, second):
            stop_server(server)
    report = table(medians(runs), runs)
    lines = ["| client hub | events/s (median) | range |", "|---|---:|---:|"]
    for index, (name, _) in enumerate(clients[0] if clients else []):
        rates = [run[index][1] for run in clients]
        lines.append(
            f"| {name} | {statistics.median(rates):,.0f} | {min(rates):,.0f}-{max(rates):,.0f} |"
        )
    return report, "\n".join(lines) if clients else ""


def _run(work: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(work)
    return uvloop.run(work)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", default="1,10,100")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--client-events", type=int, default=5000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as workdir:
        report, clients = run_all(arguments, Path(workdir))
    load_after = os.getloadavg()
    loads = f"load:    {load_before[0]:.1f} before, {load_after[0]:.1f} after (1-minute average)"
    sys.stdout.write(
        "\n".join([*machine(), loads]) + f"\nruns:    {arguments.repeat}, medians shown\n\n"
    )
    sys.stdout.write(report + "\n\n" + (clients + "\n" if clients else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
