"""Route events to the connections whose subscribers match them (PROTOCOL 7.6).

Each connection has a bounded send queue. Routing never waits: when a connection's queue is
full (a subscriber that does not read), that connection is dropped and logged, and every
other connection keeps receiving.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shotbase.events.expression import Expression, parse_expression
from shotbase.events.packet import event_packet
from shotbase.store.accounts import Account

__all__ = ["Connection", "EventRouter", "SendQueue", "Subscriber"]

logger = logging.getLogger(__name__)

QUEUE_PACKETS = 10_000
QUEUE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One subscriber of a connection: its metadata and its parsed subscription."""

    metadata: Mapping[str, Any]
    subscription: str
    expression: Expression


class SendQueue:
    """Packets waiting to be sent on one connection, bounded in count and bytes."""

    def __init__(self, max_packets: int = QUEUE_PACKETS, max_bytes: int = QUEUE_BYTES) -> None:
        self.max_packets, self.max_bytes = max_packets, max_bytes
        self._packets: collections.deque[str] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()

    def __repr__(self) -> str:
        return f"SendQueue(packets={len(self._packets)}, bytes={self._bytes})"

    def offer(self, packet: str) -> bool:
        """Queue a packet; False when the queue is full (nothing is queued then)."""
        if len(self._packets) >= self.max_packets or self._bytes + len(packet) > self.max_bytes:
            return False
        self._packets.append(packet)
        self._bytes += len(packet)
        self._ready.set()
        return True

    async def take(self) -> list[str]:
        """Wait for packets and take all that are queued."""
        await self._ready.wait()
        packets = list(self._packets)
        self._packets.clear()
        self._bytes = 0
        self._ready.clear()
        return packets


class Connection:
    """One client's socket: its user, its subscribers and its send queue."""

    def __init__(self, sid: str, account: Account, queue: SendQueue | None = None) -> None:
        self.sid, self.account = sid, account
        self.queue = queue or SendQueue()
        self.subscribers: dict[str, Subscriber] = {}
        self.dropped = asyncio.Event()

    def __repr__(self) -> str:
        return (
            f"Connection(sid={self.sid!r}, user={self.account.username!r}, "
            f"subscribers={len(self.subscribers)})"
        )

    def subscribe(self, metadata: Mapping[str, Any], subscription: str) -> None:
        """Add a subscriber.

        Raises:
            ValueError: If the subscriber has no id, its id is taken, or the subscription
                does not parse.
        """
        identifier = metadata.get("id")
        if not isinstance(identifier, str) or not identifier:
            raise ValueError("The subscriber has no 'id'.")
        existing = self.subscribers.get(identifier)
        if existing is not None and existing.subscription == subscription:
            # The official client may announce a subscriber twice while it connects.
            return
        if existing is not None:
            raise ValueError(f"Subscriber with identifier {identifier} already exists.")
        expression = parse_expression(subscription)
        self.subscribers[identifier] = Subscriber(dict(metadata), subscription, expression)

    def unsubscribe(self, identifier: str) -> bool:
        """Remove a subscriber; False when there was none with that id."""
        return self.subscribers.pop(identifier, None) is not None

    def wants(self, candidate: Mapping[str, Any], target: Expression | None) -> bool:
        """Whether one subscriber matches the event and, if targeted, the target matches it."""
        for subscriber in self.subscribers.values():
            if subscriber.expression.match(candidate) and (
                target is None or target.match(subscriber.metadata)
            ):
                return True
        return False


class EventRouter:
    """The connections of this process and the routing of events to them."""

    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}

    def __repr__(self) -> str:
        return f"EventRouter(connections={len(self.connections)})"

    def add(self, connection: Connection) -> None:
        """Start routing to a connection."""
        self.connections[connection.sid] = connection

    def remove(self, connection: Connection) -> None:
        """Stop routing to a connection (its subscribers go with it)."""
        self.connections.pop(connection.sid, None)

    def deliver(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (a wire object) on every connection that wants it, once each."""
        try:
            target = _target(event.get("target"))
        except ValueError:
            logger.info("event target %r does not parse; delivered to nobody", event["target"])
            return
        candidate = {**event, "in_reply_to_event": event.get("inReplyToEvent")}
        packet: str | None = None
        for connection in list(self.connections.values()):
            if not connection.wants(candidate, target):
                continue
            if packet is None:
                packet = event_packet(event)
            if not connection.queue.offer(packet):
                self.drop(connection, "its send queue is full")

    def drop(self, connection: Connection, reason: str) -> None:
        """Disconnect a connection that cannot keep up."""
        logger.warning(
            "dropping event connection %s of %s: %s",
            connection.sid,
            connection.account.username,
            reason,
        )
        self.remove(connection)
        connection.dropped.set()


def _target(text: Any) -> Expression | None:
    """The parsed target; None when untargeted.

    Raises:
        ValueError: If the target does not parse (the event then reaches nobody).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    return parse_expression(text)
