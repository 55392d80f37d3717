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
        self._client: Any = redis.asyncio.Redis.from_url(url)
        self._pubsub: Any = None
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

        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._pubsub.subscribe(self.channel)
        except (OSError, redis.exceptions.RedisError) as exc:
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
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._client.aclose()

    async def _write(self, outbox: asyncio.Queue[bytes]) -> None:
        """Send queued events in order, as many per round trip as are waiting."""
        while True:
            batch = [await outbox.get()]
            while not outbox.empty() and len(batch) < PIPELINE_SIZE:
                batch.append(outbox.get_nowait())
            try:
                async with self._client.pipeline(transaction=False) as pipeline:
                    for message in batch:
                        pipeline.publish(self.channel, message)
                    await pipeline.execute()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep publishing after Redis hiccups
                logger.warning("lost %d events: cannot publish to Redis (%s)", len(batch), exc)

    async def _read(self, deliver: Deliver) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        event = orjson.loads(message["data"])
                    except orjson.JSONDecodeError:
                        logger.warning("ignored a message on %s that is not JSON", self.channel)
                        continue
                    if isinstance(event, dict):
                        deliver(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep delivering after Redis hiccups
                logger.warning("lost the Redis subscription (%s); resubscribing", exc)
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe(self.channel)


def open_broker(redis_url: str) -> Broker:
    """The Redis broker when a URL is given, else the in-process one."""
    return RedisBroker(redis_url) if redis_url else InProcessBroker()
