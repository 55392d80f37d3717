"""uvicorn's WebSocket protocol, plus a way for the event hub to write ready-made frames.

Through plain ASGI every packet sent costs a ``websocket.send`` message, its framing and one
write system call, per connection: with one event fanned out to many subscribers, that is most
of the server's work. This protocol puts a :class:`~shotbase.server.router.FrameWriter` in the
WebSocket scope's extensions (:data:`~shotbase.server.router.FRAME_EXTENSION`), so the hub
writes each event's frame, encoded once, straight to every transport, and a backlog of frames
in one write. The writer follows uvicorn's flow control (it refuses while the transport is
paused above its high-water mark) and its close state. Applications that do not look for the
extension see uvicorn's usual protocol.

``shotbase serve`` runs uvicorn with ``ws=FrameWebSocketProtocol``.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

from shotbase.server.router import FRAME_EXTENSION

__all__ = ["FrameWebSocketProtocol"]

# Frames that may wait for the end of the loop turn, per connection.
PENDING_BYTES = 1024 * 1024


class _TransportFrameWriter:
    """Writes frames to the transport of one accepted WebSocket.

    Frames written during one turn of the event loop go out together, in one system call, at
    the end of that turn: a burst of events costs each connection one write, not one per
    event. At most ``PENDING_BYTES`` wait so; beyond that :meth:`write` refuses, as it does
    while the transport is paused, and the caller queues.
    """

    def __init__(self, protocol: FrameWebSocketProtocol) -> None:
        self._protocol = protocol
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def __repr__(self) -> str:
        return f"_TransportFrameWriter(open={self.is_open}, pending={self._pending_bytes})"

    @property
    def is_open(self) -> bool:
        """Whether the WebSocket is open and nothing has started closing it."""
        protocol = self._protocol
        return (
            protocol.conn.state is State.OPEN
            and not protocol.close_sent
            and not protocol.transport.is_closing()
        )

    def write(self, frames: bytes) -> bool:
        """Write at the end of this loop turn; False (nothing written) while the transport is
        paused or enough waits already, or once closed."""
        if not self._pending:
            if not self._protocol.writable.is_set() or not self.is_open:
                return False
            self._protocol.loop.call_soon(self._flush)
        elif self._pending_bytes > PENDING_BYTES:
            return False
        self._pending.append(frames)
        self._pending_bytes += len(frames)
        return True

    async def drained(self) -> None:
        """Wait until :meth:`write` takes frames again (or the WebSocket is closed)."""
        while True:
            await self._protocol.writable.wait()
            if self._pending_bytes <= PENDING_BYTES or not self.is_open:
                return
            await asyncio.sleep(0)  # let this turn's flush run

    def _flush(self) -> None:
        pending = self._pending
        self._pending, self._pending_bytes = [], 0
        if self.is_open:
            self._protocol.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))


class FrameWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol offering a frame writer in the scope."""

    def __repr__(self) -> str:
        return f"FrameWebSocketProtocol(client={self.client!r}, close_sent={self.close_sent})"

    def handle_connect(self, event: Request) -> None:
        """Build the scope as uvicorn does, then add the frame writer extension."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            # The application runs in a task that has not started yet: it sees the extension.
            scope["extensions"][FRAME_EXTENSION] = {"writer": _TransportFrameWriter(self)}
