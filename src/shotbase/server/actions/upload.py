"""``get_upload_metadata``: where and how to upload a component's data to the server store."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from shotbase.errors import RequestError
from shotbase.server.actions.base import ActionContext, require
from shotbase.server.file_store import UPLOAD_SECONDS, UploadGrant

__all__ = ["get_upload_metadata"]


def get_upload_metadata(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """A signed upload URL and the headers to send with it.

    The component need not exist yet: clients ask before they commit it.
    """
    component_id = require(operation, "component_id", str)
    file_name = require(operation, "file_name", str)
    size = operation.get("file_size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise RequestError("'file_size' must be a whole number of bytes.")
    checksum = operation.get("checksum")
    if checksum is not None and not isinstance(checksum, str):
        raise RequestError("'checksum' must be the base64 MD5 of the file (Content-MD5).")
    if operation.get("parts"):
        raise RequestError("Multi-part uploads are not supported yet; send 'parts': null.")
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
