"""``create``, ``update`` and ``delete``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shotbase.schema.values import encode_value
from shotbase.server.actions.base import ActionContext, require
from shotbase.store.writer import WrittenEntity

__all__ = ["create", "delete", "update"]


def create(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Create an entity; answer with its stored values."""
    entity_type = require(operation, "entity_type", str)
    data = require(operation, "entity_data", dict)
    written = context.writer.create(entity_type, data)
    # Rendered when the batch ends: values derived at the end (project, status) are then set.
    return lambda: {"action": "create", "data": _render(written)}


def update(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Change attributes of an entity; answer with its values."""
    entity_type = require(operation, "entity_type", str)
    key = require(operation, "entity_key", (list, str))
    data = require(operation, "entity_data", dict)
    written = context.writer.update(entity_type, key, data)
    return lambda: {"action": "update", "data": _render(written)}


def delete(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Delete an entity and what cannot exist without it."""
    entity_type = require(operation, "entity_type", str)
    key = require(operation, "entity_key", (list, str))
    context.writer.delete(entity_type, key)
    return {"action": "delete", "data": True}


def _render(written: WrittenEntity) -> dict[str, Any]:
    entity_type, row = written.entity_type, written.row
    data: dict[str, Any] = {"__entity_type__": entity_type.id}
    for name, attribute in entity_type.attributes.items():
        if attribute.is_stored and name in row:
            data[name] = encode_value(attribute, row[name])
    return data
