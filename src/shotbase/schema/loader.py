"""Load the declarative schema definition into a :class:`~shotbase.schema.model.Schema`."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from typing import Any

from shotbase.errors import SchemaError
from shotbase.schema.model import Attribute, AttributeKind, DataType, EntityType, Schema

__all__ = ["load_builtin_schema", "load_schema", "schema_hash"]

OWN_KEYS = ("extends", "abstract", "view", "storage")
SCALAR_TYPES = {"string", "integer", "number", "boolean", "variable", "object"}


def schema_hash(wire: list[dict[str, Any]]) -> str:
    """Hash the wire schema exactly as the official client hashes its cached copy."""
    return hashlib.md5(json.dumps(wire, sort_keys=True).encode("utf-8")).hexdigest()


def load_builtin_schema() -> Schema:
    """Load the schema shipped with shotbase."""
    text = resources.files("shotbase.schema.definition").joinpath("builtin.json").read_text()
    return load_schema(json.loads(text))


def load_schema(document: dict[str, Any]) -> Schema:
    """Build a schema from a definition document.

    Raises:
        SchemaError: If a type extends an unknown type or an attribute is malformed.
    """
    entries: list[dict[str, Any]] = document["types"]
    by_id = {entry["id"]: entry for entry in entries}
    flat: dict[str, dict[str, Any]] = {}
    wire: list[dict[str, Any]] = []
    for entry in entries:
        properties = _inherited_properties(entry, by_id, flat)
        wire_type = {k: v for k, v in entry.items() if k not in OWN_KEYS and k != "properties"}
        wire_type["properties"] = properties
        wire.append(wire_type)
    types = {entry["id"]: _build_type(entry, flat[entry["id"]]) for entry in entries}
    for entry in entries:
        if "extends" in entry:
            entity_type, base = types[entry["id"]], types[entry["extends"]]
            entity_type.base = base
            base.subtypes.append(entity_type)
    return Schema(types=types, wire=wire, hash=schema_hash(wire))


def _inherited_properties(
    entry: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    done: dict[str, dict[str, Any]],
    seen: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Return the full properties of ``entry``: its base's, overlaid with its own."""
    if entry["id"] in done:
        return done[entry["id"]]
    if entry["id"] in seen:
        raise SchemaError(f"{entry['id']} extends itself through {' -> '.join(seen)}.")
    base_name = entry.get("extends")
    inherited: dict[str, Any] = {}
    if base_name is not None:
        if base_name not in by_id:
            raise SchemaError(f"{entry['id']} extends {base_name!r}, which is not defined.")
        seen = (*seen, entry["id"])
        inherited = _inherited_properties(by_id[base_name], by_id, done, seen)
    properties = {**inherited, **entry["properties"]}
    done[entry["id"]] = properties
    return properties


def _build_type(entry: dict[str, Any], properties: dict[str, Any]) -> EntityType:
    flags = {
        "computed": set(entry.get("computed", ())),
        "immutable": set(entry.get("immutable", ())),
        "required": set(entry.get("required", ())),
        "primary_key": set(entry["primary_key"]),
    }
    attributes = {}
    for name, fragment in properties.items():
        attribute = _build_attribute(entry["id"], name, fragment, flags)
        if attribute is not None:
            attributes[name] = attribute
    stored = tuple(attribute for attribute in attributes.values() if attribute.is_stored)
    return EntityType(
        id=entry["id"],
        attributes=attributes,
        stored_attributes=stored,
        required_attributes=tuple(a.name for a in stored if a.is_required),
        primary_key=tuple(entry["primary_key"]),
        default_projections=tuple(entry["default_projections"]),
        system_attributes=_system_attributes(entry, properties),
        is_abstract=bool(entry.get("abstract", False)),
        is_view=bool(entry.get("view", False)),
        storage=entry.get("storage", {}),
    )


def _system_attributes(entry: dict[str, Any], properties: dict[str, Any]) -> tuple[str, ...]:
    """API names of the columns every answer carries: system projections and discriminators.

    The wire names them by backend column (``showid``); answers use the attribute that is an
    alias for that column (``project_id``).
    """
    by_column = {
        fragment["alias_for"]: name
        for name, fragment in properties.items()
        if isinstance(fragment.get("alias_for"), str)
    }
    columns = list(entry.get("system_projections", ()))
    alias = entry.get("alias_for")
    if isinstance(alias, dict):
        columns.extend(alias.get("classifiers", {}))
    names: list[str] = []
    for column in columns:
        name = by_column.get(column, column)
        if name in properties and "type" in properties[name] and name not in names:
            names.append(name)
    return tuple(names)


def _build_attribute(
    type_id: str, name: str, fragment: dict[str, Any], flags: dict[str, set[str]]
) -> Attribute | None:
    kind, data_type, target = _classify(fragment)
    if kind is None:
        return None
    return Attribute(
        name=name,
        kind=kind,
        data_type=data_type,
        target=target,
        default=fragment.get("default"),
        has_default="default" in fragment,
        is_computed=name in flags["computed"] or name in ("link", "_link"),
        is_immutable=name in flags["immutable"],
        is_required=name in flags["required"],
        is_primary_key=name in flags["primary_key"],
        is_restricted=bool(fragment.get("restricted_projection", False)),
    )


def _classify(fragment: dict[str, Any]) -> tuple[AttributeKind | None, DataType | None, str | None]:
    kind = fragment.get("type")
    if kind in SCALAR_TYPES:
        if kind == "string" and fragment.get("format") == "date-time":
            return AttributeKind.SCALAR, DataType.DATETIME, None
        return AttributeKind.SCALAR, DataType(kind), None
    if kind == "array":
        return AttributeKind.COLLECTION, None, fragment["items"]["$ref"]
    if kind == "mapped_array":
        return AttributeKind.MAPPED_COLLECTION, None, fragment["items"]["$ref"]
    if kind is None and "$ref" in fragment:
        return AttributeKind.REFERENCE, None, fragment["$ref"]
    if kind is None and fragment.get("format") == "foreign_key":
        # User.user_type_id has neither type nor $ref on the wire; it is a plain id column.
        return AttributeKind.SCALAR, DataType.STRING, None
    return None, None, None
