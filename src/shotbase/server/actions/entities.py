"""``create``, ``update`` and ``delete``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shotbase.schema.model import Attribute, DataType
from shotbase.schema.values import encode_value
from shotbase.server.actions.base import ActionContext, require
from shotbase.store.writer import WrittenEntity

__all__ = ["create", "delete", "update"]

# Value types whose column value differs from its wire form.
ENCODED = frozenset({DataType.DATETIME, DataType.NUMBER})


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
    data: dict[str, Any] = {"__entity_type__": entity_type.id}
    if everything:
        stored: Iterable[Attribute] = entity_type.stored_attributes
    else:
        shown = {*entity_type.primary_key, *entity_type.system_attributes, *sent}
        stored = (a for a in entity_type.stored_attributes if a.name in shown)
    for attribute in stored:
        value = row[attribute.name]
        if value is not None and attribute.data_type in ENCODED:
            value = encode_value(attribute, value)
        data[attribute.name] = value
    for name, value in sent.items():
        if name not in data and name in entity_type.attributes:
            if entity_type.attributes[name].is_relation:
                data[name] = _references(value)
    return data


def _references(value: Any) -> Any:
    """Echo a sent reference or list of references in bare form."""
    if isinstance(value, list):
        return [_references(item) for item in value]
    if type(value) is dict:
        return {k: v for k, v in value.items() if type(v) is not dict and type(v) is not list}
    return value
