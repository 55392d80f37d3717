"""The entity model: one declarative definition, loaded into entity types and attributes."""

from __future__ import annotations

from shotbase.schema.loader import load_builtin_schema, load_schema, schema_hash
from shotbase.schema.model import Attribute, AttributeKind, DataType, EntityType, Schema

__all__ = [
    "Attribute",
    "AttributeKind",
    "DataType",
    "EntityType",
    "Schema",
    "load_builtin_schema",
    "load_schema",
    "schema_hash",
]
