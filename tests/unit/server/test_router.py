"""Routing events to the connections whose subscribers match (PROTOCOL 7.6)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
import pytest

from shotbase.errors import ConfigurationError
from shotbase.server.broker import InProcessBroker, RedisBroker, open_broker
from shotbase.server.router import Connection, EventRouter, SendQueue
from shotbase.store.accounts import Account
from tests.conftest import free_port

ANA = Account("u-1", "ana")


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def event(topic: str, **fields: Any) -> dict[str, Any]:
    return {"topic": topic, "id": "e", "data": {}, "source": {}, "target": "", **fields}


async def drain(connection: Connection) -> list[Any]:
    packets = await asyncio.wait_for(connection.queue.take(), 1)
    return [orjson.loads(packet[4:])["args"][0] for packet in packets]


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


def test_slow_connection_is_dropped_and_others_keep_receiving() -> None:
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


def test_send_queue_is_bounded_in_bytes() -> None:
    queue = SendQueue(max_packets=10, max_bytes=5)

    assert queue.offer("abc")
    assert not queue.offer("abc")


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
