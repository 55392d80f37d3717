"""The ``/api`` actions, one module per family, and the table that names them."""

from __future__ import annotations

from shotbase.server.actions.base import ActionContext, Handler
from shotbase.server.actions.entities import create, delete, update
from shotbase.server.actions.information import query_schemas, query_server_information
from shotbase.server.actions.query import query
from shotbase.server.actions.upload import complete_multipart_upload, get_upload_metadata

__all__ = ["ACTIONS", "WRITE_ACTIONS", "ActionContext", "Handler"]

ACTIONS: dict[str, Handler] = {
    "query_server_information": query_server_information,
    "query_schemas": query_schemas,
    "query": query,
    "create": create,
    "update": update,
    "delete": delete,
    "get_upload_metadata": get_upload_metadata,
    "complete_multipart_upload": complete_multipart_upload,
}

WRITE_ACTIONS = frozenset({"create", "update", "delete"})
