"""What the client knows about each entity type, read from the server's ``query_schemas``."""

from __future__ import annotations

import enum
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shotbase.client.symbol import UNSET

__all__ = [
    "AttributeInfo",
    "AttributeKind",
    "EntityTypeInfo",
    "load_cached_schemas",
    "parse_schema",
    "store_cached_schemas",
]

logger = logging.getLogger(__name__)

SCALAR_TYPES = frozenset({"string", "boolean", "integer", "number", "variable", "object"})


class AttributeKind(enum.Enum):
    """How an attribute's value is held and sent."""

    SCALAR = "scalar"
    DATETIME = "datetime"
    REFERENCE = "reference"
    COLLECTION = "collection"
    METADATA = "metadata"
    CUSTOM_ATTRIBUTES = "custom_attributes"


@dataclass(frozen=True, slots=True)
class AttributeInfo:
    """One attribute of an entity type."""

    name: str
    kind: AttributeKind
    target: str | None = None
    default: Any = UNSET
    mutable: bool = True
    computed: bool = False

    @property
    def is_relational(self) -> bool:
        """True for references and collections (recorded after the create, like ftrack)."""
        return self.kind not in (AttributeKind.SCALAR, AttributeKind.DATETIME)


@dataclass(frozen=True, slots=True, eq=False)
class EntityTypeInfo:
    """One entity type: its key, its attributes by kind and its default projections."""

    name: str
    primary_key: tuple[str, ...]
    attributes: Mapping[str, AttributeInfo]
    default_projections: tuple[str, ...]
    plain: frozenset[str]
    datetimes: frozenset[str]
    references: frozenset[str]
    collections: frozenset[str]
    loose: frozenset[str] = frozenset()
    # Scalars typed "string" (ids, foreign keys, names): equal values are stored once.
    strings: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"EntityTypeInfo(name={self.name!r}, attributes={len(self.attributes)})"


def _attribute(
    name: str, fragment: Mapping[str, Any], schema: Mapping[str, Any]
) -> AttributeInfo | None:
    if fragment.get("restricted_projection"):
        return None
    kind_name = fragment.get("type")
    target: str | None = None
    if kind_name in SCALAR_TYPES:
        kind = (
            AttributeKind.DATETIME
            if fragment.get("format") == "date-time"
            else AttributeKind.SCALAR
        )
    elif kind_name == "array":
        kind, target = AttributeKind.COLLECTION, fragment.get("items", {}).get("$ref")
    elif kind_name == "mapped_array":
        target = fragment.get("items", {}).get("$ref")
        if target == "Metadata":
            kind = AttributeKind.METADATA
        elif target and target.endswith("CustomAttributeValue"):
            kind = AttributeKind.CUSTOM_ATTRIBUTES
        else:
            return None
    elif kind_name is None and "$ref" in fragment:
        kind, target = AttributeKind.REFERENCE, fragment["$ref"]
    else:
        return None
    computed = name in schema.get("computed", ())
    return AttributeInfo(
        name=name,
        kind=kind,
        target=target,
        default=fragment.get("default", UNSET),
        mutable=name not in schema.get("immutable", ()) and not computed,
        computed=computed,
    )


def parse_schema(schema: Mapping[str, Any]) -> EntityTypeInfo:
    """Read one schema object of ``query_schemas`` (see PROTOCOL.md 4.3 for the rules)."""
    attributes: dict[str, AttributeInfo] = {}
    for name, fragment in schema.get("properties", {}).items():
        attribute = _attribute(name, fragment, schema)
        if attribute is not None:
            attributes[name] = attribute
    by_kind: dict[AttributeKind, set[str]] = {kind: set() for kind in AttributeKind}
    for attribute in attributes.values():
        by_kind[attribute.kind].add(attribute.name)
    return EntityTypeInfo(
        name=schema["id"],
        primary_key=tuple(schema.get("primary_key", ("id",))),
        attributes=attributes,
        default_projections=tuple(schema.get("default_projections", ())),
        plain=frozenset(by_kind[AttributeKind.SCALAR]),
        datetimes=frozenset(by_kind[AttributeKind.DATETIME]),
        references=frozenset(by_kind[AttributeKind.REFERENCE]),
        collections=frozenset(
            by_kind[AttributeKind.COLLECTION]
            | by_kind[AttributeKind.METADATA]
            | by_kind[AttributeKind.CUSTOM_ATTRIBUTES]
        ),
        loose=frozenset(
            name
            for name, fragment in schema.get("properties", {}).items()
            if name in attributes and fragment.get("type") in ("variable", "object")
        ),
        strings=frozenset(
            name
            for name in by_kind[AttributeKind.SCALAR]
            if schema["properties"][name].get("type") == "string"
        ),
    )


def _cache_file(directory: str, schema_hash: str) -> Path:
    return Path(directory) / f"shotbase-schemas-{schema_hash}.json"


def load_cached_schemas(directory: str | None, schema_hash: str | None) -> list[Any] | None:
    """The schemas cached for ``schema_hash``, or None when there is no usable copy."""
    if directory is None or not schema_hash:
        return None
    path = _cache_file(directory, schema_hash)
    try:
        loaded = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(loaded, list):
        return None
    logger.debug("schemas loaded from cache %s", path)
    return loaded


def store_cached_schemas(
    directory: str | None, schema_hash: str | None, schemas: Sequence[Any]
) -> None:
    """Write the schemas for ``schema_hash`` atomically; failures are logged, not raised."""
    if directory is None or not schema_hash:
        return
    path = _cache_file(directory, schema_hash)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".schemas-")
        with os.fdopen(handle, "wb") as stream:
            stream.write(orjson.dumps(list(schemas)))
        os.replace(temporary, path)
    except OSError as exc:
        logger.warning("could not write the schema cache %s: %s", path, exc)
