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
    return lambda: {"action": "create", "data": _render(written, data, everything=True)}


def update(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Change attributes of an entity; answer with its values."""
    entity_type = require(operation, "entity_type", str)
    key = require(operation, "entity_key", (list, str))
    data = require(operation, "entity_data", dict)
    written = context.writer.update(entity_type, key, data)
    return lambda: {"action": "update", "data": _render(written, data, everything=False)}


def delete(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Delete an entity and what cannot exist without it."""
    entity_type = require(operation, "entity_type", str)
    key = require(operation, "entity_key", (list, str))
    context.writer.delete(entity_type, key)
    return {"action": "delete", "data": True}


def _render(written: WrittenEntity, sent: Mapping[str, Any], *, everything: bool) -> dict[str, Any]:
    """The entity as the client should now know it.

    A create answers with every stored value; an update with the key, the system attributes
    and what changed. Relations that were sent are echoed as references, so the client's
    collections keep the members it just committed.
    """
    entity_type, row = written.entity_type, written.row
    shown = set(entity_type.primary_key) | set(entity_type.system_attributes) | set(sent)
    data: dict[str, Any] = {"__entity_type__": entity_type.id}
    for name, attribute in entity_type.attributes.items():
        if attribute.is_stored and name in row and (everything or name in shown):
            data[name] = encode_value(attribute, row[name])
        elif attribute.is_relation and name in sent:
            data[name] = _references(sent[name])
    return data


def _references(value: Any) -> Any:
    """Echo a sent reference or list of references in bare form."""
    if isinstance(value, list):
        return [_references(item) for item in value]
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if not isinstance(v, dict | list)}
    return value
