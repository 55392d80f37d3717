"""The broker carries published events to every server process's event router.

In-process when one process serves; Redis pub/sub when ``--redis URL`` is given, so several
server processes share one event stream. Either way, an event published on any process
reaches :meth:`Broker.start`'s ``deliver`` callback on every process (the publisher's too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from shotbase.errors import ConfigurationError

__all__ = ["CHANNEL", "Broker", "InProcessBroker", "RedisBroker", "open_broker"]

logger = logging.getLogger(__name__)

CHANNEL = "shotbase.events"
OUTBOX_SIZE = 10_000
PIPELINE_SIZE = 500

Deliver = Callable[[dict[str, Any]], None]


class Broker(Protocol):
    """Fans published events out to every server process."""

    async def start(self, deliver: Deliver) -> None:
        """Begin calling ``deliver`` with each published event (its wire object)."""
        ...

    async def publish(self, event: dict[str, Any]) -> None:
        """Publish an event's wire object to every process."""
        ...

    async def close(self) -> None:
        """Stop delivering and release connections."""
        ...


class InProcessBroker:
    """Delivers straight to this process's router."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    def __repr__(self) -> str:
        return "InProcessBroker()"

    async def start(self, deliver: Deliver) -> None:
        """Remember where to deliver."""
        self._deliver = deliver

    async def publish(self, event: dict[str, Any]) -> None:
        """Deliver at once."""
        if self._deliver is not None:
            self._deliver(event)

    async def close(self) -> None:
        """Stop delivering."""
        self._deliver = None


class RedisBroker:
    """Publishes to a Redis channel and delivers what the channel carries.

    Two connections of redis-py's, driven at the protocol level (the pub/sub and pipeline
    layers cost more than the work itself at thousands of events a second): one subscribed to
    the channel, whose messages are read one after another as they arrive, and one publishing,
    which sends every event waiting in the outbox in one write and then reads their replies.

    Raises:
        ImportError: If the ``redis`` extra is not installed.
    """

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        try:
            import redis.asyncio
        except ImportError as exc:
            raise ImportError(
                "Events over Redis need the redis extra: pip install 'shotbase[redis]'"
            ) from exc
        self.url, self.channel = url, channel
        name = channel.encode()
        # ``PUBLISH <channel>`` in RESP, each event's bytes follow as the last argument.
        self._publish_prefix = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(name), name)
        # Defaults the URL may override: RESP2, whose pub/sub messages are plain replies (with
        # RESP3, redis-py routes each through its push-notification handlers), and no read
        # timeout, since the subscriber waits for as long as the channel is quiet.
        self._pool: Any = redis.asyncio.ConnectionPool.from_url(
            url, protocol=2, socket_timeout=None, socket_keepalive=True
        )
        self._subscriber: Any = None
        self._publisher: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[bytes] | None = None

    def __repr__(self) -> str:
        return f"RedisBroker(url={self.url!r}, channel={self.channel!r})"

    async def start(self, deliver: Deliver) -> None:
        """Subscribe to the channel and deliver its messages from a background task.

        Raises:
            ConfigurationError: If Redis cannot be reached.
        """
        import redis.exceptions

        try:
            self._subscriber = await self._subscribe()
            self._publisher = await self._connect()
        except (OSError, redis.exceptions.RedisError) as exc:
            await self._disconnect()
            raise ConfigurationError(f"cannot reach Redis at {self.url}: {exc}") from exc
        self._outbox = asyncio.Queue(OUTBOX_SIZE)
        self._reader = asyncio.create_task(self._read(deliver))
        self._writer = asyncio.create_task(self._write(self._outbox))

    async def publish(self, event: dict[str, Any]) -> None:
        """Queue the event for the channel; waits only while the outbox is full.

        Raises:
            RuntimeError: If the broker was not started.
        """
        if self._outbox is None:
            raise RuntimeError("RedisBroker.publish called before start")
        await self._outbox.put(orjson.dumps(event))

    async def close(self) -> None:
        """Stop reading and close the connections."""
        for task in (self._writer, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._disconnect()
        await self._pool.disconnect()

    async def _connect(self) -> Any:
        connection = self._pool.make_connection()
        await connection.connect()
        return connection

    async def _subscribe(self) -> Any:
        connection = await self._connect()
        try:
            await connection.send_command("SUBSCRIBE", self.channel)
            await connection.read_response(push_request=True)  # the subscription's confirmation
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.disconnect()
            raise
        return connection

    async def _disconnect(self) -> None:
        for connection in (self._subscriber, self._publisher):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.disconnect()

    async def _write(self, outbox: asyncio.Queue[bytes]) -> None:
        """Send queued events in order, as many per round trip as are waiting."""
        while True:
            batch = [await outbox.get()]
            while not outbox.empty() and len(batch) < PIPELINE_SIZE:
                batch.append(outbox.get_nowait())
            try:
                await self._send(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep publishing after Redis hiccups
                logger.warning("lost %d events: cannot publish to Redis (%s)", len(batch), exc)
                with contextlib.suppress(Exception):
                    await self._publisher.disconnect()  # the next batch connects again

    async def _send(self, batch: list[bytes]) -> None:
        connection = self._publisher
        prefix = self._publish_prefix
        commands = b"".join([b"%s$%d\r\n%s\r\n" % (prefix, len(m), m) for m in batch])
        await connection.send_packed_command(commands, check_health=False)
        for _ in batch:
            await connection.read_response()  # a receiver count; errors raise

    async def _read(self, deliver: Deliver) -> None:
        while True:
            try:
                await self._receive(deliver)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep delivering after Redis hiccups
                logger.warning("lost the Redis subscription (%s); resubscribing", exc)
                with contextlib.suppress(Exception):
                    await self._subscriber.disconnect()
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    self._subscriber = await self._subscribe()

    async def _receive(self, deliver: Deliver) -> None:
        connection = self._subscriber
        while True:
            message = await connection.read_response(push_request=True)
            if not isinstance(message, list) or len(message) != 3 or message[0] != b"message":
                continue
            try:
                event = orjson.loads(message[2])
            except orjson.JSONDecodeError:
                logger.warning("ignored a message on %s that is not JSON", self.channel)
                continue
            if isinstance(event, dict):
                deliver(event)


def open_broker(redis_url: str) -> Broker:
    """The Redis broker when a URL is given, else the in-process one."""
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
