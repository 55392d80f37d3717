"""The client transport seam: one ``/api`` batch in, decoded-later response bytes out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from shotbase.errors import ConnectionClosedError, ConnectionFailedError

__all__ = ["AsgiTransport", "HttpTransport", "Response", "Transport"]

logger = logging.getLogger(__name__)

Response = tuple[int, bytes]
"""HTTP status and raw body of one ``/api`` answer."""

DEFAULT_TIMEOUT = 60.0


class Transport(Protocol):
    """Sends one encoded batch to ``/api`` and returns the raw answer."""

    def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST ``body`` to ``/api`` with ``headers``.

        Raises:
            ConnectionFailedError: If the server cannot be reached.
        """
        ...

    def close(self) -> None:
        """Release connections; later calls fail."""
        ...


class HttpTransport:
    """``/api`` over HTTP with keep-alive connections (thread-safe)."""

    def __init__(self, server_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Connect lazily to ``server_url``.

        Args:
            server_url: Base URL of the server, e.g. ``https://studio.example.com``.
            timeout: Seconds to wait for each answer.
        """
        self.url = server_url.rstrip("/") + "/api"
        self._client = httpx.Client(timeout=timeout, http1=True)

    def __repr__(self) -> str:
        return f"HttpTransport(url={self.url!r})"

    def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST ``body`` to ``/api``.

        Raises:
            ConnectionFailedError: If the server cannot be reached or the connection breaks.
            ConnectionClosedError: If the transport was closed.
        """
        if self._client.is_closed:
            raise ConnectionClosedError(f"The transport to {self.url} is closed.")
        try:
            response = self._client.post(self.url, content=body, headers=dict(headers))
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                f"POST {self.url} failed: {type(exc).__name__}: {exc or 'no details'}."
            ) from exc
        return response.status_code, response.content

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._client.close()


class AsgiTransport:
    """``/api`` served by an ASGI application in this process (no socket).

    The application runs on an event loop in a private thread; its lifespan is entered on
    construction and left on :meth:`close`.
    """

    def __init__(self, app: Any, *, on_close: Callable[[], None] | None = None) -> None:
        """Start ``app`` (a Starlette application) on a private event loop.

        Args:
            app: The ASGI application, e.g. from ``shotbase.server.app.create_app``.
            on_close: Called after the application has shut down.
        """
        self._app = app
        self._on_close = on_close
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.name = "shotbase-asgi"
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()
        self._client: httpx.AsyncClient | None = None
        self._run(self._start())

    def __repr__(self) -> str:
        return f"AsgiTransport(app={type(self._app).__name__})"

    async def _start(self) -> None:
        lifespan = self._app.router.lifespan_context(self._app)
        await self._stack.enter_async_context(lifespan)
        self._client = await self._stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=self._app), base_url="http://local")
        )

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        """Call the application's ``/api`` route.

        Raises:
            ConnectionClosedError: If the transport was closed.
        """
        client = self._client
        if client is None or self._loop.is_closed():
            raise ConnectionClosedError("The in-process server is closed.")
        response = self._run(client.post("/api", content=body, headers=dict(headers)))
        return int(response.status_code), bytes(response.content)

    def close(self) -> None:
        """Shut the application down and stop its event loop."""
        if self._client is None:
            return
        self._client = None
        self._run(self._stack.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        if self._on_close is not None:
            self._on_close()
