"""Routing events to the connections whose subscribers match (PROTOCOL 7.6)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from shotbase.errors import ConfigurationError
from shotbase.events.expression import parse_expression
from shotbase.server.broker import InProcessBroker, RedisBroker, open_broker
from shotbase.server.router import Connection, EventRouter, Outgoing, SendQueue, text_frame
from shotbase.store.accounts import Account
from tests.conftest import free_port

ANA = Account("u-1", "ana")


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def event(topic: str, **fields: Any) -> dict[str, Any]:
    return {"topic": topic, "id": "e", "data": {}, "source": {}, "target": "", **fields}


async def drain(connection: Connection) -> list[Any]:
    packets = await asyncio.wait_for(connection.queue.take(), 1)
    return [orjson.loads(packet.text[4:])["args"][0] for packet in packets]


def connected(router: EventRouter, sid: str, *subscriptions: tuple[str, str]) -> Connection:
    connection = Connection(sid, ANA)
    for subscriber_id, subscription in subscriptions:
        connection.subscribe({"id": subscriber_id, "applicationId": sid}, subscription)
    router.add(connection)
    return connection


def test_event_reaches_only_matching_connections_once_each() -> None:
    async def scenario() -> None:
        router = EventRouter()
        both = connected(router, "a", ("s1", "topic=x.*"), ("s2", "topic=x.y"))
        other = connected(router, "b", ("s3", "topic=z"))
        router.deliver(event("x.y"))
        router.deliver(event("z"))

        assert [e["topic"] for e in await drain(both)] == ["x.y"]
        assert [e["topic"] for e in await drain(other)] == ["z"]

    run(scenario)


def test_targeted_event_reaches_only_matching_subscriber_metadata() -> None:
    async def scenario() -> None:
        router = EventRouter()
        first = connected(router, "a", ("s1", "topic=r"))
        second = connected(router, "b", ("s2", "topic=r"))
        router.deliver(event("r", target="applicationId=b"))
        router.deliver(event("r", id="last"))

        assert [e["id"] for e in await drain(first)] == ["last"]
        assert [e["id"] for e in await drain(second)] == ["e", "last"]

    run(scenario)


def test_unparsable_target_reaches_nobody() -> None:
    async def scenario() -> None:
        router = EventRouter()
        connection = connected(router, "a", ("s1", "topic=r"))
        router.deliver(event("r", target="(((", id="lost"))
        router.deliver(event("r", id="kept"))

        assert [e["id"] for e in await drain(connection)] == ["kept"]

    run(scenario)


def test_slow_connection_is_dropped_and_others_keep_receiving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        router = EventRouter()
        slow = Connection("slow", ANA, SendQueue(max_packets=2))
        slow.subscribe({"id": "s"}, "topic=t")
        router.add(slow)
        fast = connected(router, "fast", ("f", "topic=t"))
        for number in range(3):
            router.deliver(event("t", id=str(number)))

        assert slow.dropped.is_set()
        assert "slow" not in router.connections
        assert [e["id"] for e in await drain(fast)] == ["0", "1", "2"]

    run(scenario)
    assert "dropping event connection slow of ana: its send queue is full" in caplog.text


def test_send_queue_is_bounded_in_bytes() -> None:
    queue = SendQueue(max_packets=10, max_bytes=5)

    assert queue.offer("abc")  # a 5-byte frame
    assert not queue.offer("a")


def test_subscribe_refuses_missing_id_taken_id_and_bad_expression() -> None:
    connection = Connection("c", ANA)
    connection.subscribe({"id": "s"}, "topic=a")
    connection.subscribe({"id": "s"}, "topic=a")  # announced twice while connecting: fine

    with pytest.raises(ValueError, match="already exists"):
        connection.subscribe({"id": "s"}, "topic=b")
    with pytest.raises(ValueError, match="no 'id'"):
        connection.subscribe({}, "topic=b")
    with pytest.raises(ValueError, match="cannot parse"):
        connection.subscribe({"id": "t"}, "topic")


def test_unsubscribe_tells_whether_there_was_such_a_subscriber() -> None:
    connection = Connection("c", ANA)
    connection.subscribe({"id": "s"}, "topic=a")

    assert connection.unsubscribe("s")
    assert not connection.unsubscribe("s")


def test_in_process_broker_delivers_to_the_router() -> None:
    async def scenario() -> None:
        router = EventRouter()
        connection = connected(router, "a", ("s", "topic=t"))
        broker = open_broker("")
        assert isinstance(broker, InProcessBroker)
        await broker.start(router.deliver)
        await broker.publish(event("t"))
        await broker.close()
        await broker.publish(event("t", id="after-close"))

        assert [e["id"] for e in await drain(connection)] == ["e"]

    run(scenario)


def test_redis_url_selects_the_redis_broker() -> None:
    async def scenario() -> None:
        broker = open_broker("redis://127.0.0.1:6379/0")
        assert isinstance(broker, RedisBroker)
        await broker.close()

    run(scenario)


def test_missing_redis_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)

    with pytest.raises(ImportError, match=r"pip install 'shotbase\[redis\]'"):
        RedisBroker("redis://127.0.0.1:6379/0")


def test_unreachable_redis_fails_start_naming_the_url() -> None:
    async def scenario() -> None:
        broker = RedisBroker(f"redis://127.0.0.1:{free_port()}/0")
        with pytest.raises(ConfigurationError, match="cannot reach Redis"):
            await broker.start(EventRouter().deliver)
        await broker.close()

    run(scenario)


# Frames and the frame writer -----------------------------------------------------------------


class RecordingWriter:
    """A FrameWriter over a list: takes frames while ``accepting``."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.accepting = True
        self.is_open = True

    def write(self, frames: bytes) -> bool:
        if self.accepting:
            self.written.append(frames)
        return self.accepting

    async def drained(self) -> None:
        return None


def parsed_frames(data: bytes) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frames.append(done.value)
    return frames


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000], ids=str)
def test_text_frame_is_one_unmasked_final_text_frame(size: int) -> None:
    payload = b"x" * size

    (frame,) = parsed_frames(text_frame(payload))

    assert (frame.opcode, frame.fin, bytes(frame.data)) == (Opcode.TEXT, True, payload)


def test_event_is_encoded_once_and_written_to_each_writer() -> None:
    async def scenario() -> None:
        router = EventRouter()
        writers = [RecordingWriter(), RecordingWriter()]
        for number, writer in enumerate(writers):
            connection = Connection(f"c{number}", ANA, writer=writer)
            connection.subscribe({"id": "s"}, "topic=t")
            router.add(connection)
        router.deliver(event("t"))

        first, second = (writer.written for writer in writers)
        assert first == second and first[0] is second[0]
        (frame,) = parsed_frames(first[0])
        assert orjson.loads(bytes(frame.data)[4:])["args"][0]["topic"] == "t"

    run(scenario)


def test_packets_queue_behind_a_refusing_writer_and_keep_their_order() -> None:
    async def scenario() -> None:
        router = EventRouter()
        writer = RecordingWriter()
        connection = Connection("c", ANA, writer=writer)
        connection.subscribe({"id": "s"}, "topic=t")
        router.add(connection)
        router.deliver(event("t", id="0"))
        writer.accepting = False
        router.deliver(event("t", id="1"))
        writer.accepting = True
        router.deliver(event("t", id="2"))  # queued behind "1", although the writer takes it

        assert len(writer.written) == 1
        assert [e["id"] for e in await drain(connection)] == ["1", "2"]

    run(scenario)


def test_outgoing_is_its_frame_with_the_text_inside() -> None:
    packet = Outgoing.of("2::")

    assert packet.text == "2::" and bytes(packet.data) == b"2::"
    assert packet.frame == text_frame(b"2::")
    assert Outgoing.of(packet) is packet


def test_shared_subscription_is_evaluated_once_per_event() -> None:
    class Counting:
        calls = 0

        def match(self, candidate: Any) -> bool:
            Counting.calls += 1
            return True

    async def scenario() -> None:
        router = EventRouter()
        shared = Counting()
        for number in range(3):
            connection = connected(router, f"c{number}", ("s", "topic=t"))
            subscriber = connection.subscribers["s"]
            connection.subscribers["s"] = type(subscriber)(
                subscriber.metadata, subscriber.subscription, shared
            )
        router.deliver(event("t"))

        assert Counting.calls == 1
        assert all(not c.queue.is_empty for c in router.connections.values())

    run(scenario)


def test_equal_subscriptions_share_one_parsed_expression() -> None:
    assert parse_expression("topic=a and data.x=1") is parse_expression("topic=a and data.x=1")
