"""The event hub's socket: the socket.io 0.9 handshake, the WebSocket and its reader thread.

The socket owns the wire: it answers heartbeats, numbers outgoing event packets and calls the
acknowledgement callback of each; events it receives go to ``on_event``. When the socket
closes without being asked to, ``on_lost`` is called from the reader thread.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect

from shotbase.events.packet import (
    HEARTBEAT,
    Packet,
    PacketType,
    event_packet,
    parse_ack,
    parse_event_args,
    parse_packet,
)

__all__ = ["EventSocket", "EventSocketError"]

logger = logging.getLogger(__name__)

OPEN_TIMEOUT = 30.0
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
EVENT_PREFIX = "5:::"

Ack = Callable[[dict[str, Any]], None]


class EventSocketError(ConnectionError):
    """The event server cannot be reached or refused the connection."""


class EventSocket:
    """One connection to the event server."""

    def __init__(
        self,
        server_url: str,
        headers: Mapping[str, str],
        on_event: Callable[[dict[str, Any]], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.headers = dict(headers)
        self.on_event, self.on_lost = on_event, on_lost
        self._websocket: ClientConnection | None = None
        self._stack = contextlib.ExitStack()
        self._callbacks: dict[int, Ack] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closing = False
        self._reader: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EventSocket(url={self.server_url!r}, open={self.is_open})"

    @property
    def is_open(self) -> bool:
        """Whether the WebSocket is open."""
        return self._websocket is not None and not self._closing

    @property
    def pending_acks(self) -> int:
        """How many sent packets wait for their acknowledgement."""
        with self._lock:
            return len(self._callbacks)

    def open(self) -> None:
        """Hand-shake, open the WebSocket and start the reader thread.

        Raises:
            EventSocketError: If the server cannot be reached or refuses the credentials.
        """
        sid = self._handshake()
        parts = urlsplit(self.server_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}{parts.path}/socket.io/1/websocket/{sid}"
        try:
            self._websocket = self._stack.enter_context(
                connect(
                    url,
                    additional_headers=self.headers,
                    open_timeout=OPEN_TIMEOUT,
                    max_size=MAX_MESSAGE_BYTES,
                    ping_interval=None,  # socket.io heartbeats keep the connection alive
                    compression=None,  # events are small; deflate costs more than it saves
                )
            )
        except (OSError, WebSocketException) as exc:
            raise EventSocketError(f"cannot open the event socket at {url}: {exc}") from exc
        self._closing = False
        self._reader = threading.Thread(
            target=self._read, name="shotbase-event-socket", daemon=True
        )
        self._reader.start()

    def close(self) -> None:
        """Close the socket (the reader thread then ends without calling ``on_lost``)."""
        self._closing = True
        with contextlib.suppress(Exception):
            self._stack.close()
        # The reader thread ends on its own once the socket is closed; joining it here could
        # wait on a reader that is itself waiting for the hub's lock.
        self._websocket = None

    def send_event(self, event: dict[str, Any], on_ack: Ack | None = None) -> None:
        """Send an event packet; ``on_ack`` gets the server's acknowledgement object.

        Raises:
            EventSocketError: If the socket is not open or the send fails.
        """
        packet_id = ""
        if on_ack is not None:
            number = next(self._ids)
            with self._lock:
                self._callbacks[number] = on_ack
            packet_id = f"{number}+"
        self._send(event_packet(event, packet_id))

    def _send(self, text: str) -> None:
        websocket = self._websocket
        if websocket is None or self._closing:
            raise EventSocketError("the event socket is not open")
        try:
            websocket.send(text)
        except (OSError, WebSocketException) as exc:
            raise EventSocketError(f"cannot send to the event server: {exc}") from exc

    def _handshake(self) -> str:
        url = f"{self.server_url}/socket.io/1/"
        try:
            response = httpx.get(url, headers=self.headers, timeout=OPEN_TIMEOUT)
        except httpx.HTTPError as exc:
            raise EventSocketError(f"cannot reach the event server at {url}: {exc}") from exc
        if response.status_code != 200:
            raise EventSocketError(
                f"the event server refused the connection ({response.status_code}): "
                f"{response.text[:200]}"
            )
        fields = response.text.split(":")
        if len(fields) < 4 or "websocket" not in fields[3].split(","):
            raise EventSocketError(f"unexpected handshake answer {response.text[:80]!r}")
        return fields[0]

    def _read(self) -> None:
        websocket = self._websocket
        assert websocket is not None
        try:
            while True:
                text = websocket.recv()
                self._on_packet(text if isinstance(text, str) else text.decode())
        except ConnectionClosed:
            pass
        except (OSError, WebSocketException) as exc:
            logger.info("event socket failed: %s", exc)
        except _Disconnected:
            pass
        with self._lock:
            self._callbacks.clear()
        if not self._closing:
            self._closing = True
            with contextlib.suppress(Exception):
                self._stack.close()
            self.on_lost()

    def _on_packet(self, text: str) -> None:
        if text.startswith(EVENT_PREFIX):
            # Most packets are events without an id: skip the general parse.
            self._on_event_data(text[len(EVENT_PREFIX) :])
            return
        try:
            packet = parse_packet(text)
        except ValueError as exc:
            logger.debug("ignored a packet: %s", exc)
            return
        if packet.type is PacketType.HEARTBEAT:
            with contextlib.suppress(EventSocketError):
                self._send(HEARTBEAT)
        elif packet.type is PacketType.EVENT:
            self._on_event_data(packet.data)
        elif packet.type is PacketType.ACK:
            self._on_ack(packet)
        elif packet.type is PacketType.DISCONNECT:
            raise _Disconnected
        elif packet.type is PacketType.ERROR:
            logger.warning("the event server reported: %s", packet.data)

    def _on_event_data(self, data: str) -> None:
        try:
            args = parse_event_args(data)
        except ValueError as exc:
            logger.debug("ignored an event packet: %s", exc)
            return
        if len(args) == 1 and isinstance(args[0], dict):
            self.on_event(args[0])

    def _on_ack(self, packet: Packet) -> None:
        try:
            number, args = parse_ack(packet.data)
        except ValueError as exc:
            logger.debug("ignored an acknowledgement: %s", exc)
            return
        with self._lock:
            callback = self._callbacks.pop(number, None)
        if callback is not None:
            callback(args[0] if args and isinstance(args[0], dict) else {})


class _Disconnected(Exception):
    """The server sent a disconnect packet."""
