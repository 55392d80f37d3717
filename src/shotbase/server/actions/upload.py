"""Uploads to the server store: ``get_upload_metadata`` and ``complete_multipart_upload``.

A single-part upload is one signed ``PUT`` URL. A multi-part upload (the JavaScript client
asks for one with ``parts`` when a file splits into more than two chunks) gets one signed URL
per part and an ``upload_id``; ``complete_multipart_upload`` then assembles the parts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from shotbase.errors import RequestError
from shotbase.server.actions.base import ActionContext, require
from shotbase.server.file_store import MAX_PARTS, UPLOAD_SECONDS, UploadGrant

__all__ = ["complete_multipart_upload", "get_upload_metadata"]


def get_upload_metadata(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """A signed upload URL and the headers to send with it, or one URL per part.

    The component need not exist yet: clients ask before they commit it. With ``parts`` (a
    whole number), the answer is ``{component_id, upload_id, urls: [{part_number,
    signed_url}]}`` (PROTOCOL 6.4); without, ``{url, headers, component_id}`` (6.2).
    """
    component_id = require(operation, "component_id", str)
    file_name = require(operation, "file_name", str)
    size = operation.get("file_size")
    if size is not None and not _is_count(size):
        raise RequestError("'file_size' must be a whole number of bytes.")
    checksum = operation.get("checksum")
    if checksum is not None and not isinstance(checksum, str):
        raise RequestError("'checksum' must be the base64 MD5 of the file (Content-MD5).")
    parts = operation.get("parts")
    if parts is not None:
        if not _is_count(parts):
            raise RequestError(f"'parts' must be null or a whole number from 1 to {MAX_PARTS}.")
        return _multipart_metadata(context, component_id, parts, size, checksum)
    context.state.file_store.path(component_id)  # refuses ids that are not safe file names
    grant = UploadGrant(component_id, size, checksum, int(time.time()) + UPLOAD_SECONDS)
    token = context.state.upload_signer.sign(grant)
    query = urlencode({"id": component_id, "token": token})
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{quote(file_name)}"',
    }
    if checksum:
        headers["Content-MD5"] = checksum
    if size is not None:
        headers["Content-Length"] = str(size)
    return {
        "url": f"{context.base_url}/component/upload?{query}",
        "headers": headers,
        "component_id": component_id,
    }


def _multipart_metadata(
    context: ActionContext, component_id: str, parts: int, size: int | None, checksum: str | None
) -> dict[str, Any]:
    upload = context.state.file_store.start_upload(component_id, parts, size, checksum)
    signer = context.state.upload_signer
    urls = []
    for number in range(1, parts + 1):
        token = signer.sign(upload.part_grant(number))
        query = urlencode({"id": component_id, "part": number, "token": token})
        urls.append(
            {"part_number": number, "signed_url": f"{context.base_url}/component/upload?{query}"}
        )
    return {"component_id": component_id, "upload_id": signer.sign_upload(upload), "urls": urls}


def complete_multipart_upload(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Assemble the uploaded parts into the component's data.

    Takes ``upload_id``, ``component_id`` and ``parts: [{part_number, e_tag}]``; answers
    ``{action, component_id, url}``. A completion that fails aborts the upload: its parts are
    removed and no component data is written.
    """
    component_id = require(operation, "component_id", str)
    upload_id = require(operation, "upload_id", str)
    listed = require(operation, "parts", list)
    pairs: list[tuple[int, str]] = []
    for entry in listed:
        if not (
            isinstance(entry, dict)
            and _is_count(entry.get("part_number"))
            and isinstance(entry.get("e_tag"), str)
        ):
            raise RequestError(
                "Each of 'parts' must be an object with a whole 'part_number' and an 'e_tag'."
            )
        pairs.append((entry["part_number"], entry["e_tag"]))
    upload = context.state.upload_signer.check_upload(upload_id, component_id)
    context.state.file_store.complete_upload(upload, pairs)
    query = urlencode({"id": component_id})
    return {
        "action": "complete_multipart_upload",
        "component_id": component_id,
        "url": f"{context.base_url}/component/get?{query}",
    }


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
