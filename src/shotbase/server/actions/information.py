"""``query_server_information`` and ``query_schemas``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import shotbase
from shotbase.server.actions.base import ActionContext

__all__ = ["query_schemas", "query_server_information"]

# The ftrack feature level shotbase answers to; the official client needs >= 3.3.11.
FTRACK_COMPATIBLE_VERSION = "4.13.0"


def query_server_information(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """The server's version, schema hash, storage scenario and the caller's details."""
    account = context.account
    information = {
        "version": FTRACK_COMPATIBLE_VERSION,
        "shotbase_version": shotbase.__version__,
        "schema_hash": context.state.schema.hash,
        "storage_scenario": {"scenario": "ftrack.automatic", "data": {}},
        "is_timezone_support_enabled": True,
        "is_nested_subqueries_enabled": True,
        "product": "shotbase",
        "user_information": {"id": account.id, "username": account.username},
    }
    wanted = operation.get("values")
    if isinstance(wanted, list) and wanted:
        keep = set(wanted) | {"version", "schema_hash"}
        information = {key: value for key, value in information.items() if key in keep}
    return information


def query_schemas(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """The wire schema document, exactly what ``schema_hash`` is the hash of."""
    return context.state.schema.wire
