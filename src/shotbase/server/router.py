"""Route events to the connections whose subscribers match them (PROTOCOL 7.6).

An event is encoded once, as a socket.io packet and as a WebSocket frame, and that one value
goes to every connection that wants it. Each subscription expression is evaluated once per
event, however many subscribers share it. A connection whose socket can take data at once gets
the frame written straight away; otherwise the packet waits in the connection's bounded send
queue, which its writer task empties in batches. When that queue is full (a subscriber that
does not read), the connection is dropped and logged, and every other connection keeps
receiving.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shotbase.events.expression import Expression, parse_expression
from shotbase.events.packet import encode_event_packet
from shotbase.store.accounts import Account

__all__ = [
    "FRAME_EXTENSION",
    "Connection",
    "EventRouter",
    "FrameWriter",
    "Outgoing",
    "SendQueue",
    "Subscriber",
    "text_frame",
]

logger = logging.getLogger(__name__)

QUEUE_PACKETS = 10_000
QUEUE_BYTES = 16 * 1024 * 1024
# The ASGI scope extension through which the server offers a connection's FrameWriter.
FRAME_EXTENSION = "shotbase.websocket.frames"
TEXT_FIN = 0x81


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final WebSocket text frame carrying ``payload`` (RFC 6455 5.2).

    Frames from a server are never masked, so one frame serves every connection.
    """
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", TEXT_FIN, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", TEXT_FIN, 126, length)
    else:
        header = struct.pack("!BBQ", TEXT_FIN, 127, length)
    return header + payload


class FrameWriter(Protocol):
    """Writes ready-made WebSocket frames to one connection's socket, bypassing ASGI sends."""

    @property
    def is_open(self) -> bool:
        """Whether the connection can still be written to."""
        ...

    def write(self, frames: bytes) -> bool:
        """Write now; False (and nothing written) when the socket is not keeping up or closed."""
        ...

    async def drained(self) -> None:
        """Wait until :meth:`write` takes frames again (or the connection is closed); a
        write made before anything else awaits then fails only if the connection closed."""
        ...


class Outgoing:
    """One packet to send, held as its WebSocket frame: made once, then shared by every
    connection that sends it (written as is, or as text through ASGI)."""

    __slots__ = ("_offset", "_text", "frame")

    def __init__(self, data: bytes) -> None:
        self.frame = text_frame(data)
        self._offset = len(self.frame) - len(data)
        self._text: str | None = None

    def __repr__(self) -> str:
        return f"Outgoing({bytes(self.data[:40])!r})"

    @classmethod
    def of(cls, packet: Outgoing | str) -> Outgoing:
        """``packet`` itself, or a text packet made into one."""
        if isinstance(packet, Outgoing):
            return packet
        made = cls(packet.encode())
        made._text = packet
        return made

    @property
    def data(self) -> memoryview:
        """The packet's UTF-8 bytes (a view into the frame)."""
        return memoryview(self.frame)[self._offset :]

    @property
    def text(self) -> str:
        """The packet's text."""
        if self._text is None:
            self._text = str(self.data, "utf-8")
        return self._text


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
        self._packets: collections.deque[Outgoing] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()

    def __repr__(self) -> str:
        return f"SendQueue(packets={len(self._packets)}, bytes={self._bytes})"

    @property
    def is_empty(self) -> bool:
        """Whether no packet waits."""
        return not self._packets

    def offer(self, packet: Outgoing | str) -> bool:
        """Queue a packet; False when the queue is full (nothing is queued then)."""
        packet = Outgoing.of(packet)
        size = len(packet.frame)
        if len(self._packets) >= self.max_packets or self._bytes + size > self.max_bytes:
            return False
        self._packets.append(packet)
        self._bytes += size
        self._ready.set()
        return True

    async def ready(self) -> None:
        """Wait until a packet is queued."""
        await self._ready.wait()

    def take_now(self) -> list[Outgoing]:
        """Take every queued packet (none when empty)."""
        packets = list(self._packets)
        self._packets.clear()
        self._bytes = 0
        self._ready.clear()
        return packets

    async def take(self) -> list[Outgoing]:
        """Wait for packets and take all that are queued."""
        await self.ready()
        return self.take_now()


class Connection:
    """One client's socket: its user, its subscribers and its send queue.

    ``writer``, when the server offers one, lets packets skip the queue while the socket
    keeps up.
    """

    def __init__(
        self,
        sid: str,
        account: Account,
        queue: SendQueue | None = None,
        writer: FrameWriter | None = None,
    ) -> None:
        self.sid, self.account = sid, account
        self.queue = queue if queue is not None else SendQueue()
        self.writer = writer
        self.subscribers: dict[str, Subscriber] = {}
        self.dropped = asyncio.Event()

    def __repr__(self) -> str:
        return (
            f"Connection(sid={self.sid!r}, user={self.account.username!r}, "
            f"subscribers={len(self.subscribers)})"
        )

    def send(self, packet: Outgoing | str) -> bool:
        """Write a packet now if the socket takes it and nothing waits before it, else queue
        it; False when the queue is full."""
        packet = Outgoing.of(packet)
        writer = self.writer
        if writer is not None and self.queue.is_empty and writer.write(packet.frame):
            return True
        return self.queue.offer(packet)

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

    def wants(
        self,
        candidate: Mapping[str, Any],
        target: Expression | None,
        matches: dict[int, bool] | None = None,
    ) -> bool:
        """Whether one subscriber matches the event and, if targeted, the target matches it.

        ``matches`` remembers each expression's answer for this candidate by identity (equal
        subscriptions share one parsed expression), so that an expression shared by many
        subscribers is evaluated once per event.
        """
        for subscriber in self.subscribers.values():
            expression = subscriber.expression
            if matches is None:
                matched = expression.match(candidate)
            else:
                found = matches.get(id(expression))
                if found is None:
                    found = matches[id(expression)] = expression.match(candidate)
                matched = found
            if matched and (target is None or target.match(subscriber.metadata)):
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
        """Send ``event`` (a wire object) to every connection that wants it, once each."""
        try:
            target = _target(event.get("target"))
        except ValueError:
            logger.info("event target %r does not parse; delivered to nobody", event["target"])
            return
        candidate = {**event, "in_reply_to_event": event.get("inReplyToEvent")}
        matches: dict[int, bool] = {}
        packet: Outgoing | None = None
        for connection in list(self.connections.values()):
            if not connection.wants(candidate, target, matches):
                continue
            if packet is None:
                packet = Outgoing(encode_event_packet(event))
            if not connection.send(packet):
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
