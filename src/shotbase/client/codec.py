"""Encoding values for the wire and the four ``encode`` attribute strategies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import orjson

from shotbase.client.collection import Collection, CustomAttributes, MetadataMapping
from shotbase.client.entity import Entity
from shotbase.client.symbol import UNSET

__all__ = ["STRATEGIES", "dumps", "encode_entity", "encode_value", "reference"]

STRATEGIES = ("all", "set_only", "modified_only", "persisted_only")


def reference(entity: Entity) -> dict[str, Any]:
    """The minimal wire form of ``entity``: its type and primary key."""
    ref: dict[str, Any] = {"__entity_type__": entity.entity_type}
    for name in entity.primary_key_attributes:
        value = entity._local_value(name)
        if value is UNSET:
            value = entity._remote_value(name)
        ref[name] = None if value is UNSET else value
    return ref


def encode_value(value: Any) -> Any:
    """``value`` as JSON-ready data: entities become references, datetimes tagged objects."""
    if isinstance(value, Entity):
        return reference(value)
    if isinstance(value, (Collection, MetadataMapping, CustomAttributes)):
        return [reference(item) for item in value.items_list()]
    if isinstance(value, (list, tuple)):
        return [encode_value(item) for item in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return {"__type__": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__type__": "datetime", "value": value.isoformat()}
    if isinstance(value, Mapping):
        return {key: encode_value(item) for key, item in value.items()}
    return value


def encode_entity(entity: Entity, strategy: str) -> dict[str, Any]:
    """``entity`` with its attribute values chosen by ``strategy``.

    ``all`` loads and includes every attribute; ``set_only`` includes attributes with a local
    or remote value; ``modified_only`` only local changes; ``persisted_only`` only remote
    values of attributes that are not computed. Nested entities are references.

    Raises:
        ValueError: If ``strategy`` is not one of :data:`STRATEGIES`.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unsupported entity attribute strategy {strategy!r}; use one of {STRATEGIES}."
        )
    data: dict[str, Any] = reference(entity)
    attributes = entity.info.attributes
    if strategy == "all":
        values = dict(entity.items())
    elif strategy == "set_only":
        values = dict(entity._remote_items())
        values.update(entity._local_values or {})
    elif strategy == "modified_only":
        values = dict(entity._local_values or {})
    else:
        values = {
            name: value
            for name, value in entity._remote_items()
            if name in attributes and not attributes[name].computed
        }
    for name, value in values.items():
        if value is not UNSET and name in attributes:
            data[name] = encode_value(value)
    return data


def dumps(value: Any) -> bytes:
    """Compact JSON bytes of already-encoded data."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
