"""SQLAlchemy Core tables generated from the schema.

Every family of entity types (a type and all the types that extend it) shares one table named
after the family's root, with a column for every stored attribute of any member and a ``_type``
column holding the concrete type of each row. Many-to-many relations without an entity type of
their own get a two-column link table.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shotbase.errors import SchemaError
from shotbase.schema.model import AttributeKind, DataType, EntityType, Schema
from shotbase.schema.relations import Relation, resolve_relations

__all__ = ["TYPE_COLUMN", "Tables", "build_tables", "table_name"]

TYPE_COLUMN = "_type"

COLUMN_TYPES: dict[DataType, sa.types.TypeEngine[Any]] = {
    DataType.STRING: sa.Text(),
    DataType.INTEGER: sa.BigInteger(),
    DataType.NUMBER: sa.Float(),
    DataType.BOOLEAN: sa.Boolean(),
    DataType.DATETIME: sa.DateTime(),
    DataType.VARIABLE: sa.JSON(),
}
INDEXED_NAMES = ("name", "key", "username")
PAGING_COLUMNS = (TYPE_COLUMN, "project_id", "parent_id")
# Indexes the column rules below do not give: a custom attribute filter looks values up by
# entity and key together (``custom_attributes any (key is "fstart" and ...)``).
EXTRA_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "custom_attribute_value": (("entity_id", "key"),),
}
STORAGE_TYPES = {
    "string": DataType.STRING,
    "integer": DataType.INTEGER,
    "number": DataType.NUMBER,
}


def table_name(type_id: str) -> str:
    """Table name of a family root: ``CustomAttributeValue`` -> ``custom_attribute_value``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type_id).lower()


@dataclass(eq=False, slots=True)
class Tables:
    """The generated tables and how to find the one behind an entity type."""

    schema: Schema
    metadata: sa.MetaData
    relations: dict[tuple[str, str], Relation]
    families: dict[str, sa.Table]
    links: dict[str, sa.Table]
    api_key: sa.Table
    closure: sa.Table
    _holders: dict[str, dict[str, EntityType]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Tables(families={len(self.families)}, links={len(self.links)})"

    def of(self, entity_type: EntityType) -> sa.Table:
        """Return the table holding rows of ``entity_type``."""
        return self.families[entity_type.root.id]

    def relation(self, entity_type: EntityType, name: str) -> Relation:
        """Return how ``entity_type.name`` joins its target."""
        return self.relations[entity_type.id, name]

    def holders(self, entity_type: EntityType) -> dict[str, EntityType]:
        """Scalar attributes of ``entity_type`` that hold a reference, and the type they name."""
        found = self._holders.get(entity_type.id)
        if found is None:
            found = {}
            for attribute in entity_type.attributes.values():
                if attribute.kind is not AttributeKind.REFERENCE or attribute.is_restricted:
                    continue
                relation = self.relations[entity_type.id, attribute.name]
                if len(relation.pairs) != 1:
                    continue
                local, remote = relation.pairs[0]
                target = self.schema.get(relation.target)
                if local in entity_type.attributes and (remote,) == target.primary_key:
                    known = found.get(local)
                    # Two references on one column (Recipient.user and .recipient): the wider.
                    if known is None or known.is_a(target):
                        found[local] = target.root if known is not None else target
            self._holders[entity_type.id] = found
        return found


def build_tables(schema: Schema, dialect: str | None = None) -> Tables:
    """Generate the tables for every family of ``schema`` (for the database ``dialect``,
    when known: some indexes serve one kind of database only).

    Raises:
        SchemaError: If two members of one family declare one attribute with different types.
    """
    metadata = sa.MetaData()
    relations = resolve_relations(schema)
    families = {
        root.id: _family_table(metadata, root, dialect)
        for root in schema.types.values()
        if root.base is None
    }
    link_names = sorted({r.link_table for r in relations.values() if r.link_table})
    links = {
        name: sa.Table(
            name,
            metadata,
            sa.Column("owner_id", sa.Text(), primary_key=True),
            sa.Column("target_id", sa.Text(), primary_key=True, index=True),
        )
        for name in link_names
    }
    api_key = sa.Table(
        "api_key",
        metadata,
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("user_id", sa.Text(), nullable=False, index=True),
        sa.Column("key_hash", sa.Text(), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    closure = sa.Table(
        "context_ancestor",
        metadata,
        sa.Column("descendant_id", sa.Text(), primary_key=True),
        sa.Column("ancestor_id", sa.Text(), primary_key=True, index=True),
        sa.Column("depth", sa.Integer(), nullable=False),
    )
    return Tables(schema, metadata, relations, families, links, api_key, closure)


def _family_table(metadata: sa.MetaData, root: EntityType, dialect: str | None) -> sa.Table:
    columns: dict[str, DataType] = {}
    for member in root.descendants():
        for attribute in member.attributes.values():
            if attribute.is_stored:
                assert attribute.data_type is not None
                _add_column(columns, root, attribute.name, attribute.data_type)
        for name, kind in member.storage.get("columns", {}).items():
            _add_column(columns, root, name, STORAGE_TYPES[kind])
    table_columns = [
        sa.Column(name, COLUMN_TYPES[data_type], primary_key=name in root.primary_key)
        for name, data_type in columns.items()
    ]
    table_columns.append(sa.Column(TYPE_COLUMN, sa.Text(), nullable=False))
    name = table_name(root.id)
    # Paging filters (type, project, parent) are indexed together with the primary key, which
    # orders every answer, so a page deep into a scan reads the index in order instead of
    # sorting every match. Other filter columns get plain indexes: each index slows inserts.
    extra = EXTRA_INDEXES.get(name, ())
    indexes = [sa.Index(_index_name(name, "_".join(group)), *group) for group in extra]
    # The primary key's index (its columns in table order) serves its first column; a filter
    # on a later one (the parent of Metadata, the entity of a custom attribute value) needs
    # its own.
    key_order = [column for column in columns if column in root.primary_key]
    served = {group[0] for group in extra} | set(key_order[:1])
    for column in [*columns, TYPE_COLUMN]:
        if column in served or not _is_filtered(column):
            continue
        tail = [k for k in root.primary_key if k != column] if column in PAGING_COLUMNS else []
        indexes.append(sa.Index(_index_name(name, column), column, *tail))
    if "project_id" in columns and len(list(root.descendants())) > 1 and dialect != "postgresql":
        # One project's rows of one type in key order: on SQLite, which keeps no statistics
        # of single values, a page of a small project's tasks reads just those, where the
        # type's index would walk every task of every project. PostgreSQL plans that from
        # the project's own statistics with the indexes above.
        group = ("project_id", TYPE_COLUMN, *root.primary_key)
        indexes.append(sa.Index(_index_name(name, "_".join(group[:2])), *group))
    return sa.Table(name, metadata, *table_columns, *indexes)


def _index_name(table: str, column: str) -> str:
    """``ix_<table>_<column>``, shortened with a hash to PostgreSQL's 63 characters."""
    name = f"ix_{table}_{column}"
    if len(name) <= 63:
        return name
    return f"{name[:54]}_{hashlib.md5(name.encode()).hexdigest()[:8]}"


def _is_filtered(column: str) -> bool:
    """Columns that queries commonly filter on: references, names, types, indexed copies."""
    return (
        column.endswith("_id")
        or column.startswith("value_")
        or column in (TYPE_COLUMN, *INDEXED_NAMES)
    )


def _add_column(columns: dict[str, DataType], root: EntityType, name: str, kind: DataType) -> None:
    known = columns.setdefault(name, kind)
    if known is not kind:
        raise SchemaError(
            f"{root.id} family declares {name!r} as both {known.value} and {kind.value}."
        )
