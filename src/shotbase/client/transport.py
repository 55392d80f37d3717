"""The client transport seam: one ``/api`` batch in, decoded-later response bytes out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlsplit

import httpx

from shotbase.errors import ConnectionClosedError, ConnectionFailedError

__all__ = ["AsgiTransport", "HttpTransport", "Response", "StreamedResponse", "Transport"]

logger = logging.getLogger(__name__)

Response = tuple[int, bytes]
"""HTTP status and raw body of one ``/api`` answer."""

DEFAULT_TIMEOUT = 60.0
STREAM_CHUNK = 1 << 20
Body = bytes | BinaryIO | None


class StreamedResponse:
    """An answer whose body is read in chunks; close it (or use ``with``) when done."""

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        chunks: Iterator[bytes],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = {name.lower(): value for name, value in headers.items()}
        self._chunks = chunks
        self._on_close = on_close

    def __repr__(self) -> str:
        return f"StreamedResponse(status_code={self.status_code})"

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk."""
        return self._chunks

    def read(self) -> bytes:
        """The whole (remaining) body: for small answers such as errors."""
        return b"".join(self._chunks)

    def close(self) -> None:
        """Release the connection."""
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> StreamedResponse:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Transport(Protocol):
    """Sends one encoded batch to ``/api`` and returns the raw answer."""

    def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        """POST ``body`` to ``/api`` with ``headers``.

        Raises:
            ConnectionFailedError: If the server cannot be reached.
        """
        ...

    def stream(
        self, method: str, url: str, headers: Mapping[str, str], content: Body = None
    ) -> StreamedResponse:
        """Send one request to ``url`` (absolute, or a path on the server) and stream the answer.

        ``content`` is sent as the body; a file object is streamed in chunks.

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
        self.base_url = server_url.rstrip("/")
        self.url = self.base_url + "/api"
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

    def stream(
        self, method: str, url: str, headers: Mapping[str, str], content: Body = None
    ) -> StreamedResponse:
        """Send a request and stream the answer (see :meth:`Transport.stream`).

        Raises:
            ConnectionFailedError: If the server cannot be reached or the connection breaks.
            ConnectionClosedError: If the transport was closed.
        """
        if self._client.is_closed:
            raise ConnectionClosedError(f"The transport to {self.url} is closed.")
        target = url if "://" in url else self.base_url + url
        body: Any = _file_chunks(content) if hasattr(content, "read") else content
        try:
            request = self._client.build_request(
                method, target, headers=dict(headers), content=body
            )
            response = self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ConnectionFailedError(
                f"{method} {target} failed: {type(exc).__name__}: {exc or 'no details'}."
            ) from exc
        return StreamedResponse(
            response.status_code,
            response.headers,
            _guarded(response.iter_bytes(STREAM_CHUNK), f"{method} {target}"),
            response.close,
        )

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._client.close()


def _file_chunks(handle: Any) -> Iterator[bytes]:
    while chunk := handle.read(STREAM_CHUNK):
        yield chunk


def _guarded(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    """``chunks``, with a broken connection reported as ``ConnectionFailedError``."""
    try:
        yield from chunks
    except httpx.HTTPError as exc:
        raise ConnectionFailedError(f"{what} broke off: {type(exc).__name__}: {exc}.") from exc


async def _async_file_chunks(handle: Any) -> AsyncIterator[bytes]:
    while chunk := handle.read(STREAM_CHUNK):
        yield chunk


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

    def stream(
        self, method: str, url: str, headers: Mapping[str, str], content: Body = None
    ) -> StreamedResponse:
        """Call the application (see :meth:`Transport.stream`); the answer is held in memory.

        Raises:
            ConnectionClosedError: If the transport was closed.
        """
        client = self._client
        if client is None or self._loop.is_closed():
            raise ConnectionClosedError("The in-process server is closed.")
        body: Any = _async_file_chunks(content) if hasattr(content, "read") else content
        target = urlsplit(url)._replace(scheme="", netloc="").geturl() if "://" in url else url
        response = self._run(client.request(method, target, headers=dict(headers), content=body))
        return StreamedResponse(
            int(response.status_code), response.headers, iter([bytes(response.content)])
        )

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
