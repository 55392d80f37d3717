"""HTTP endpoints of the server store: upload, download, thumbnail and removal of data.

These are the URLs the official clients build themselves (reference 6.2 and 6.3): downloads
authenticate with ``username`` and ``apiKey`` in the query string because that is where the
clients put them; uploads use the signed token from ``get_upload_metadata``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from shotbase.errors import EntityNotFoundError, RequestError
from shotbase.server.auth import Authenticator
from shotbase.server.file_store import MAX_THUMBNAIL_SIZE, FileStore, UploadSigner

__all__ = ["ComponentEndpoints"]

logger = logging.getLogger(__name__)

Reject = Callable[[Exception], Awaitable[Response]]


class ComponentEndpoints:
    """Route handlers for ``/component/*``."""

    def __init__(
        self, store: FileStore, signer: UploadSigner, auth: Authenticator, reject: Reject
    ) -> None:
        self.store = store
        self.signer = signer
        self.auth = auth
        self.reject = reject

    def __repr__(self) -> str:
        return f"ComponentEndpoints({self.store!r})"

    async def upload(self, request: Request) -> Response:
        """``PUT /component/upload?id=...&token=...``: store a component's data.

        With a part token (``&part=N``), store one part of a multi-part upload and answer its
        ETag (the part's hex MD5), which ``complete_multipart_upload`` checks.
        """
        try:
            component_id = _parameter(request, "id")
            grant = self.signer.check(_parameter(request, "token"), component_id)
            md5 = request.headers.get("content-md5")
            if grant.part_number is None:
                size = await self.store.write(grant, request.stream(), md5)
                etag = component_id
            else:
                _check_part_number(request, grant.part_number)
                etag = await self.store.write_part(grant, request.stream(), md5)
        except Exception as exc:  # noqa: BLE001 - answered in the wire shape
            return await self.reject(exc)
        if grant.part_number is None:
            logger.info("stored %d bytes for component %s", size, component_id)
        # Browsers only let the JavaScript client read the ETag when it is exposed.
        headers = {"ETag": f'"{etag}"', "Access-Control-Expose-Headers": "ETag"}
        return Response(status_code=200, headers=headers)

    async def download(self, request: Request) -> Response:
        """``GET /component/get?id=...``: a component's data."""
        try:
            await self._authenticate(request)
            return FileResponse(self._stored(_parameter(request, "id")))
        except Exception as exc:  # noqa: BLE001
            return await self.reject(exc)

    async def thumbnail(self, request: Request) -> Response:
        """``GET /component/thumbnail?id=...[&size=N]``: the image, fitted into N x N.

        Without ``size``, the data as stored. Resized images are cached in the store per
        component and size; data that is not an image is refused with a clear error.
        """
        try:
            await self._authenticate(request)
            component_id = _parameter(request, "id")
            size = _thumbnail_size(request.query_params.get("size"))
            if size is None:
                return FileResponse(self._stored(component_id))
            thumbnail = await run_in_threadpool(self.store.thumbnail, component_id, size)
            return FileResponse(thumbnail.path, media_type=thumbnail.media_type)
        except Exception as exc:  # noqa: BLE001
            return await self.reject(exc)

    async def remove(self, request: Request) -> Response:
        """``GET /component/remove?id=...``: delete a component's data."""
        try:
            await self._authenticate(request)
            component_id = _parameter(request, "id")
            if not await run_in_threadpool(self.store.remove, component_id):
                raise EntityNotFoundError("ComponentData", (component_id,))
        except Exception as exc:  # noqa: BLE001
            return await self.reject(exc)
        return Response(status_code=200)

    async def _authenticate(self, request: Request) -> None:
        user = request.query_params.get("username") or request.headers.get("ftrack-user")
        key = request.query_params.get("apiKey") or request.headers.get("ftrack-api-key")
        await run_in_threadpool(self.auth.check, user, key)

    def _stored(self, component_id: str) -> str:
        path = self.store.path(component_id)
        if not path.is_file():
            raise EntityNotFoundError("ComponentData", (component_id,))
        return str(path)


def _check_part_number(request: Request, signed: int) -> None:
    """Refuse a part URL whose ``part`` does not match the part its token was signed for."""
    given = request.query_params.get("part")
    if given is not None and given != str(signed):
        raise RequestError(f"The upload token is for part {signed}, not part {given}.")


def _thumbnail_size(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_THUMBNAIL_SIZE:
        raise RequestError(
            f"'size' must be a whole number of pixels from 1 to {MAX_THUMBNAIL_SIZE}, got {text!r}."
        )
    return int(text)


def _parameter(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise RequestError(f"The request needs the {name!r} query parameter.")
    return value
