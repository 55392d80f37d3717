"""The ASGI application: thin routes that parse input, call an action and render the result."""

from __future__ import annotations

import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shotbase.errors import RequestError, ShotbaseError
from shotbase.server.auth import Authenticator
from shotbase.server.batch import run_batch
from shotbase.server.errors import render_error
from shotbase.server.state import ServerState
from shotbase.settings import Settings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

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

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = state if state is not None else await run_in_threadpool(ServerState.open, settings)
        holder["state"] = opened
        holder["auth"] = Authenticator(opened)
        try:
            yield
        finally:
            if state is None:
                opened.close()

    async def api(request: Request) -> Response:
        strict = request.headers.get("ftrack-strict-api", "false").lower() == "true"
        started = time.perf_counter()
        try:
            operations = _parse_body(await request.body())
            account = await run_in_threadpool(
                holder["auth"].check,
                request.headers.get("ftrack-user"),
                request.headers.get("ftrack-api-key"),
            )
            results = await run_in_threadpool(
                run_batch,
                holder["state"],
                account,
                operations,
                base_url=_base_url(settings, request),
                options=_api_options(request.headers.get("ftrack-api-options", "")),
            )
        except Exception as exc:  # noqa: BLE001 - every error is answered in the wire shape
            status, body = render_error(exc, strict=strict)
            if not isinstance(exc, ShotbaseError):
                logger.debug("unexpected error answered as %d", status)
            return OrjsonResponse(body, status_code=status)
        response = OrjsonResponse(results)
        logger.debug(
            "answered %d operations in %.1f ms",
            len(operations),
            (time.perf_counter() - started) * 1000,
        )
        return response

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

    routes = [
        Route("/api", api, methods=["POST"]),
        Route("/img/thumbnail2.png", placeholder, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed, 500: internal_error},
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


def _base_url(settings: Settings, request: Request) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")
