"""The ASGI application: thin routes that parse input, call an action and render the result."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Scope
from starlette.websockets import WebSocket

from shotbase.errors import RequestError, ShotbaseError
from shotbase.server.auth import Authenticator
from shotbase.server.batch import BatchOutcome, run_batch
from shotbase.server.broker import open_broker
from shotbase.server.components import ComponentEndpoints
from shotbase.server.errors import render_error
from shotbase.server.events import EventEndpoint
from shotbase.server.router import EventRouter
from shotbase.server.state import ServerState
from shotbase.server.updates import UPDATE_TOPIC, describe_changes, update_event
from shotbase.settings import Settings
from shotbase.store.accounts import Account

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Threads that run /api batches: as many as the PostgreSQL pool can serve at once.
API_THREADS = 20

# A 1x1 grey PNG served where an entity has no thumbnail.
PLACEHOLDER_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGO4BwAA6gDpfWmnCQAAAABJRU5ErkJggg=="
)


class OrjsonResponse(Response):
    """JSON rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def create_app(settings: Settings, state: ServerState | None = None) -> Starlette:
    """Build the application; the database is opened when it starts, unless ``state`` is given."""
    holder: dict[str, Any] = {}
    executor = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="shotbase-api")

    async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (database, disk) off the event loop, on the server's own
        threads: a plain executor hop costs a fraction of anyio's."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(function, *args, **kwargs))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = state if state is not None else await run_in_threadpool(ServerState.open, settings)
        holder["state"] = opened
        holder["auth"] = Authenticator(opened)
        router, broker = EventRouter(), open_broker(settings.redis)

        def deliver(event: dict[str, Any]) -> None:
            if event.get("topic") == UPDATE_TOPIC:  # data changed, maybe in another process
                opened.page_cursors.forget_all()
            router.deliver(event)

        await broker.start(deliver)
        holder["events"] = EventEndpoint(holder["auth"].check, router, broker, reject)
        holder["components"] = ComponentEndpoints(
            opened.file_store, opened.upload_signer, holder["auth"], reject
        )
        try:
            yield
        finally:
            await broker.close()
            executor.shutdown(wait=True)
            if state is None:
                opened.close()

    async def reject(exc: Exception) -> Response:
        status, body = render_error(exc, strict=True)
        return OrjsonResponse(body, status_code=status)

    async def api(request: Request) -> Response:
        strict = request.headers.get("ftrack-strict-api", "false").lower() == "true"
        started = time.perf_counter()
        try:
            operations = _parse_body(await request.body())
            auth: Authenticator = holder["auth"]
            username = request.headers.get("ftrack-user")
            api_key = request.headers.get("ftrack-api-key")
            # Credentials checked a moment ago need no thread: that hop costs as much as a
            # small query.
            account = auth.remembered(username, api_key)
            if account is None:
                account = await in_thread(auth.check, username, api_key)
            outcome = await in_thread(
                run_batch,
                holder["state"],
                account,
                operations,
                base_url=_base_url(settings, request.scope),
                options=_api_options(request.headers.get("ftrack-api-options", "")),
            )
        except Exception as exc:  # noqa: BLE001 - every error is answered in the wire shape
            status, body = render_error(exc, strict=strict)
            if not isinstance(exc, ShotbaseError):
                logger.debug("unexpected error answered as %d", status)
            return OrjsonResponse(body, status_code=status)
        response = OrjsonResponse(outcome.results)
        if outcome.changes:
            # Published after the answer is sent: the client does not wait for the event.
            response.background = BackgroundTask(
                _publish_update, holder, outcome, account, dict(request.headers)
            )
        logger.debug(
            "answered %d operations in %.1f ms",
            len(operations),
            (time.perf_counter() - started) * 1000,
        )
        return response

    async def event_handshake(request: Request) -> Response:
        endpoint: EventEndpoint = holder["events"]
        return await endpoint.handshake(request)

    async def event_socket(websocket: WebSocket) -> None:
        endpoint: EventEndpoint = holder["events"]
        await endpoint.websocket(websocket)

    async def placeholder(request: Request) -> Response:
        return Response(PLACEHOLDER_PNG, media_type="image/png")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def not_found(request: Request, exc: Exception) -> Response:
        status, body = render_error(
            RequestError(f"No such endpoint: {request.url.path}"), strict=True
        )
        return OrjsonResponse(body, status_code=404)

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        status, body = render_error(
            RequestError(f"{request.method} is not allowed on {request.url.path}."), strict=True
        )
        return OrjsonResponse(body, status_code=405)

    async def internal_error(request: Request, exc: Exception) -> Response:
        status, body = render_error(exc, strict=True)
        return OrjsonResponse(body, status_code=status)

    def component(name: str) -> Any:
        async def handle(request: Request) -> Response:
            handler = getattr(holder["components"], name)
            response: Response = await handler(request)
            return response

        return handle

    routes = [
        Route("/api", api, methods=["POST"]),
        Route("/component/upload", component("upload"), methods=["PUT"]),
        Route("/component/get", component("download"), methods=["GET"]),
        Route("/component/thumbnail", component("thumbnail"), methods=["GET"]),
        Route("/component/remove", component("remove"), methods=["GET"]),
        Route("/img/thumbnail2.png", placeholder, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/socket.io/1/", event_handshake, methods=["GET"]),
        WebSocketRoute("/socket.io/1/websocket/{sid}", event_socket),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: internal_error},
    )


async def _publish_update(
    holder: dict[str, Any], outcome: BatchOutcome, account: Account, headers: dict[str, str]
) -> None:
    """Publish ``ftrack.update`` for a committed batch; the batch stands if this fails."""
    try:
        state: ServerState = holder["state"]
        entities = await run_in_threadpool(
            describe_changes, state.tables, outcome.changes, outcome.lineage
        )
        events: EventEndpoint = holder["events"]
        await events.publish(update_event(entities, account, headers))
    except Exception as exc:  # noqa: BLE001 - the commit succeeded; a lost event must not undo it
        logger.warning(
            "could not publish ftrack.update for %d changes: %s", len(outcome.changes), exc
        )


def _parse_body(body: bytes) -> list[Any]:
    try:
        operations = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(operations, list):
        raise RequestError("The request body must be a JSON array of operations.")
    return operations


def _api_options(header: str) -> dict[str, str]:
    """``strict=1;denormalize=1`` (or with ``:``, as the JS client writes it)."""
    options = {}
    for part in header.split(";"):
        key, _, value = part.replace(":", "=").partition("=")
        if key.strip():
            options[key.strip().lower()] = value.strip().lower()
    return options


def _base_url(settings: Settings, scope: Scope) -> str:
    """The server's URL as the client reached it (or the configured public URL)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    return _origin(
        scope["scheme"], host, tuple(server) if server else None, scope.get("root_path", "")
    )


@functools.lru_cache(maxsize=256)
def _origin(scheme: str, host: bytes | None, server: tuple[str, int] | None, root_path: str) -> str:
    """``scheme://host[:port]/root`` from a request's scope parts: the same few combinations
    recur on every request, so each is worked out once."""
    scope: Scope = {"type": "http", "scheme": scheme, "path": "/", "root_path": root_path}
    scope["headers"] = [(b"host", host)] if host is not None else []
    scope["server"] = server
    scope["query_string"] = b""
    return str(URL(scope=scope)).rstrip("/")
