"""The event hub endpoint: socket.io 0.9 over WebSocket, as the official clients speak it.

``GET /socket.io/1/`` authenticates and hands out a session id; the client then opens
``/socket.io/1/websocket/<sid>``. Over the socket: heartbeats, ``ftrack.meta.subscribe`` and
``ftrack.meta.unsubscribe``, and published events, which go to the broker and from it to the
router of every server process (PROTOCOL 7).

Packets for a client are written straight to its socket through the server's frame writer
(:mod:`shotbase.server.event_protocol`) while the socket keeps up; otherwise, or when the
server offers no frame writer, they wait in the connection's bounded queue for its writer task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from shotbase.errors import AuthenticationError
from shotbase.events.event import Event
from shotbase.events.packet import (
    CONNECT,
    DISCONNECT,
    HEARTBEAT,
    Packet,
    PacketType,
    ack_packet,
    error_packet,
    parse_event_args,
    parse_packet,
)
from shotbase.server.broker import Broker
from shotbase.server.router import FRAME_EXTENSION, Connection, EventRouter, FrameWriter
from shotbase.store.accounts import Account

__all__ = ["EventEndpoint"]

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# Advertised in the handshake; a client silent for this long is disconnected.
TIMEOUT_SECONDS = 60
HANDSHAKE_SECONDS = 60.0
MAX_PACKET_CHARS = 1024 * 1024
CLOSE_SECONDS = 2.0
SUBSCRIBE_TOPIC = "ftrack.meta.subscribe"
UNSUBSCRIBE_TOPIC = "ftrack.meta.unsubscribe"

Check = Callable[[str | None, str | None], Account]
Reject = Callable[[Exception], Awaitable[Response]]


class EventEndpoint:
    """The handshake and WebSocket routes of one server process."""

    def __init__(self, check: Check, router: EventRouter, broker: Broker, reject: Reject) -> None:
        self.check, self.router, self.broker, self.reject = check, router, broker, reject
        self._handshakes: dict[str, tuple[float, Account]] = {}

    def __repr__(self) -> str:
        return f"EventEndpoint({self.router!r}, {self.broker!r})"

    async def publish(self, event: Event) -> None:
        """Publish a server-originated event to every process."""
        await self.broker.publish(event.to_wire())

    # Routes --------------------------------------------------------------------------------

    async def handshake(self, request: Request) -> Response:
        """``GET /socket.io/1/``: authenticate; answer ``<sid>:<timeout>:<timeout>:websocket``."""
        try:
            account = await self._authenticate(request.headers, request.query_params)
        except AuthenticationError as exc:
            return await self.reject(exc)
        now = time.monotonic()
        self._handshakes = {
            sid: entry
            for sid, entry in self._handshakes.items()
            if now - entry[0] < HANDSHAKE_SECONDS
        }
        sid = secrets.token_hex(16)
        self._handshakes[sid] = (now, account)
        body = f"{sid}:{TIMEOUT_SECONDS}:{TIMEOUT_SECONDS}:websocket"
        return PlainTextResponse(body)

    async def websocket(self, websocket: WebSocket) -> None:
        """``/socket.io/1/websocket/<sid>``: serve one client until either side leaves."""
        account = await self._account_for(websocket)
        if account is None:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        connection = Connection(
            websocket.path_params["sid"], account, writer=_frame_writer(websocket)
        )
        self.router.add(connection)
        connection.send(CONNECT)
        activity = _Activity(time.monotonic())
        tasks = [
            asyncio.create_task(self._read(websocket, connection, activity)),
            asyncio.create_task(self._write(websocket, connection)),
            asyncio.create_task(self._beat(connection, activity)),
            asyncio.create_task(connection.dropped.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.router.remove(connection)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._close(websocket, connection)

    async def _close(self, websocket: WebSocket, connection: Connection) -> None:
        # A client that does not read could block these sends: never wait long for it.
        with contextlib.suppress(Exception):
            if connection.dropped.is_set():
                await asyncio.wait_for(websocket.send_text(DISCONNECT), CLOSE_SECONDS)
            await asyncio.wait_for(websocket.close(), CLOSE_SECONDS)

    # Connection tasks ----------------------------------------------------------------------

    async def _read(
        self, websocket: WebSocket, connection: Connection, activity: _Activity
    ) -> None:
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            activity.last = time.monotonic()
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", "replace")
            if not text:
                continue
            if len(text) > MAX_PACKET_CHARS:
                self._refuse(connection, text, f"packets are limited to {MAX_PACKET_CHARS} bytes")
                continue
            try:
                packet = parse_packet(text)
            except ValueError as exc:
                logger.info("bad packet from %s: %s", connection.account.username, exc)
                self._send(connection, error_packet(str(exc)))
                continue
            if packet.type is PacketType.DISCONNECT:
                return
            if packet.type is PacketType.EVENT:
                await self._on_event(connection, packet)

    async def _write(self, websocket: WebSocket, connection: Connection) -> None:
        """Send what waits in the connection's queue: all of it in one write when the server
        offers a frame writer, else packet by packet through ASGI."""
        queue, writer = connection.queue, connection.writer
        while True:
            await queue.ready()
            if writer is None:
                for packet in queue.take_now():
                    await websocket.send_text(packet.text)
                continue
            await writer.drained()
            # Taken only once the socket takes data, so that while this task waits the
            # queue stays non-empty and new packets line up behind the waiting ones.
            frames = b"".join(packet.frame for packet in queue.take_now())
            if not writer.write(frames):
                return  # closed: the connection ends

    async def _beat(self, connection: Connection, activity: _Activity) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            if time.monotonic() - activity.last > TIMEOUT_SECONDS:
                logger.info("closing event connection %s: silent for too long", connection.sid)
                return
            self._send(connection, HEARTBEAT)

    # Packets -------------------------------------------------------------------------------

    async def _on_event(self, connection: Connection, packet: Packet) -> None:
        try:
            args = parse_event_args(packet.data)
            if len(args) != 1:
                raise ValueError("an event packet must carry exactly one event")
            event = Event.from_wire(args[0])
        except ValueError as exc:
            self._answer(connection, packet, {"success": False, "message": str(exc)})
            return
        if event.topic == SUBSCRIBE_TOPIC:
            answer = self._subscribe(connection, event)
        elif event.topic == UNSUBSCRIBE_TOPIC:
            answer = self._unsubscribe(connection, event)
        else:
            wire = event.to_wire()
            wire["source"] = {**event.source, "user": _user(connection.account)}
            await self.broker.publish(wire)
            answer = {"success": True}
        self._answer(connection, packet, answer)

    def _subscribe(self, connection: Connection, event: Event) -> dict[str, Any]:
        subscriber = event.data.get("subscriber")
        subscription = event.data.get("subscription")
        if not isinstance(subscriber, dict) or not isinstance(subscription, str):
            return {"success": False, "message": "Expected data.subscriber and subscription."}
        try:
            connection.subscribe(subscriber, subscription)
        except ValueError as exc:
            return {"success": False, "message": str(exc)}
        return {"success": True}

    def _unsubscribe(self, connection: Connection, event: Event) -> dict[str, Any]:
        subscriber = event.data.get("subscriber")
        identifier = subscriber.get("id") if isinstance(subscriber, dict) else None
        if isinstance(identifier, str) and connection.unsubscribe(identifier):
            return {"success": True}
        return {"success": False, "message": f"No subscriber with identifier {identifier}."}

    def _send(self, connection: Connection, packet: str) -> None:
        if not connection.send(packet):
            self.router.drop(connection, "its send queue is full")

    def _answer(self, connection: Connection, packet: Packet, answer: dict[str, Any]) -> None:
        if packet.wants_ack:
            self._send(connection, ack_packet(packet.ack_id, answer))
        elif answer.get("success") is False:
            logger.info("event from %s refused: %s", connection.sid, answer.get("message"))

    def _refuse(self, connection: Connection, text: str, reason: str) -> None:
        logger.info("refused a packet of %d bytes from %s", len(text), connection.sid)
        head = text[:40].split(":")
        if len(head) > 1 and head[0] == PacketType.EVENT.value and head[1].endswith("+"):
            packet = Packet(PacketType.EVENT, head[1])
            self._answer(connection, packet, {"success": False, "message": reason})
        else:
            self._send(connection, error_packet(reason))

    # Authentication ------------------------------------------------------------------------

    async def _authenticate(self, headers: Any, query: Any) -> Account:
        user = headers.get("ftrack-user") or query.get("api_user")
        key = headers.get("ftrack-api-key") or query.get("api_key")
        return await run_in_threadpool(self.check, user, key)

    async def _account_for(self, websocket: WebSocket) -> Account | None:
        """The account bound to the socket's session id, or by credentials on the socket."""
        entry = self._handshakes.pop(websocket.path_params["sid"], None)
        if entry is not None and time.monotonic() - entry[0] < HANDSHAKE_SECONDS:
            return entry[1]
        try:
            return await self._authenticate(websocket.headers, websocket.query_params)
        except AuthenticationError:
            logger.info("refused an event socket with an unknown session id")
            return None


@dataclass(slots=True)
class _Activity:
    """When a connection last received a packet."""

    last: float


def _frame_writer(websocket: WebSocket) -> FrameWriter | None:
    """The server's frame writer for this socket, when it offers one."""
    extension = websocket.scope.get("extensions", {}).get(FRAME_EXTENSION)
    writer = extension.get("writer") if isinstance(extension, dict) else None
    return cast("FrameWriter | None", writer)


def _user(account: Account) -> dict[str, str]:
    return {"id": account.id, "username": account.username}
