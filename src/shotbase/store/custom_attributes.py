"""Custom attributes: which configurations apply to an entity, and checking their values.

Values are stored as JSON in ``value`` with two indexed copies used by filters: ``value_text``
(strings, booleans as ``true``/``false``) and ``value_number`` (numbers, booleans as 1/0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shotbase.errors import ValidationError
from shotbase.schema.model import EntityType
from shotbase.schema.values import parse_datetime
from shotbase.store.tables import TYPE_COLUMN, Tables

__all__ = [
    "Configuration",
    "applicable",
    "check_value",
    "index_columns",
    "load_configurations",
    "owner_kind",
    "typed_value_type",
]

# Configuration entity_type -> the typed value type of entities of that kind.
VALUE_TYPES = {
    "show": "ContextCustomAttributeValue",
    "task": "ContextCustomAttributeValue",
    "asset": "AssetCustomAttributeValue",
    "assetversion": "AssetVersionCustomAttributeValue",
    "list": "ListCustomAttributeValue",
    "user": "UserCustomAttributeValue",
}
HIERARCHICAL_KINDS = {"show", "task", "asset", "assetversion"}


@dataclass(frozen=True, slots=True)
class Configuration:
    """One custom attribute configuration, as far as values need it."""

    id: str
    key: str
    entity_type: str
    object_type_id: str | None
    project_id: str | None
    is_hierarchical: bool
    default: Any
    type_name: str | None


def load_configurations(tables: Tables, connection: sa.Connection) -> list[Configuration]:
    """Every custom attribute configuration with its type's name."""
    table = tables.families["CustomConfigurationBase"]
    kinds = tables.families["CustomAttributeType"]
    statement = (
        sa.select(
            table.c.id,
            table.c.key,
            table.c.entity_type,
            table.c.object_type_id,
            table.c.project_id,
            table.c.is_hierarchical,
            table.c.default,
            kinds.c.name,
        )
        .select_from(table.outerjoin(kinds, kinds.c.id == table.c.type_id))
        .where(table.c[TYPE_COLUMN] == "CustomAttributeConfiguration")
        .order_by(table.c.sort, table.c.key, table.c.id)
    )
    return [
        Configuration(row[0], row[1], row[2] or "", row[3], row[4], bool(row[5]), row[6], row[7])
        for row in connection.execute(statement)
    ]


def owner_kind(entity_type: EntityType) -> str | None:
    """The configuration ``entity_type`` that applies to entities of this type."""
    root = entity_type.root.id
    if entity_type.id == "Project":
        return "show"
    return {
        "Context": "task",
        "Asset": "asset",
        "AssetVersion": "assetversion",
        "List": "list",
        "Resource": "user",
    }.get(root)


def typed_value_type(kind: str) -> str:
    """The typed value type for a configuration ``entity_type``."""
    return VALUE_TYPES.get(kind, "CustomAttributeValue")


def applicable(
    configurations: Iterable[Configuration], entity_type: EntityType, row: Mapping[str, Any]
) -> list[Configuration]:
    """The configurations that apply to one entity, project-specific ones shadowing global."""
    kind = owner_kind(entity_type)
    if kind is None:
        return []
    project = row.get("id") if kind == "show" else row.get("project_id")
    chosen: dict[str, Configuration] = {}
    for configuration in configurations:
        if configuration.is_hierarchical:
            fits = kind in HIERARCHICAL_KINDS
        else:
            fits = configuration.entity_type == kind and (
                kind != "task" or configuration.object_type_id in (None, row.get("object_type_id"))
            )
        if not fits or configuration.project_id not in (None, project):
            continue
        known = chosen.get(configuration.key)
        if known is None or (known.project_id is None and configuration.project_id is not None):
            chosen[configuration.key] = configuration
    return list(chosen.values())


def check_value(configuration: Configuration, value: Any) -> Any:
    """The value to store for ``configuration``.

    Raises:
        ValidationError: If the value does not fit the configuration's type.
    """
    kind = configuration.type_name
    if value is None or kind in (None, "expression", "dynamic enumerator"):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind in ("text", "url") and isinstance(value, str):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "enumerator" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if kind == "date":
        text = value.get("value") if isinstance(value, dict) else value
        if isinstance(text, str):
            try:
                return {"__type__": "datetime", "value": parse_datetime(text).isoformat()}
            except ValueError:
                pass
    raise ValidationError(
        f"Custom attribute {configuration.key!r} is of type {kind}; "
        f"{type(value).__name__} value not accepted."
    )


def index_columns(value: Any) -> dict[str, Any]:
    """The filter copies of a value: ``value_text`` and ``value_number``."""
    if isinstance(value, bool):
        return {"value_text": "true" if value else "false", "value_number": 1.0 if value else 0.0}
    if isinstance(value, int | float):
        return {"value_text": str(value), "value_number": float(value)}
    if isinstance(value, str):
        return {"value_text": value, "value_number": None}
    if isinstance(value, dict) and "value" in value:
        return {"value_text": str(value["value"]), "value_number": None}
    if isinstance(value, dt.datetime):
        return {"value_text": value.isoformat(), "value_number": None}
    return {"value_text": None, "value_number": None}
