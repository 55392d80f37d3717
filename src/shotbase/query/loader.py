"""Run a compiled query and load its projections into wire-ready entity records.

The root rows come from one statement; every projected reference or collection then costs one
more statement for all rows at once (chunked for very long key lists), never one per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shotbase.errors import QueryError
from shotbase.query import ast
from shotbase.query.compiler import CompiledQuery, QueryCompiler
from shotbase.query.computed import COMPUTED_ATTRIBUTES, ComputeContext
from shotbase.schema.model import AttributeKind, EntityType
from shotbase.schema.values import encode_value
from shotbase.store.custom_attributes import Configuration, applicable, load_configurations
from shotbase.store.tables import TYPE_COLUMN
from shotbase.store.types import Row

__all__ = ["EntityRecord", "Loader", "ProjectionTree", "render"]

CHUNK = 500
ProjectionTree = dict[str, "ProjectionTree"]


@dataclass(eq=False, slots=True)
class EntityRecord:
    """One entity of an answer; shared by every place the same entity appears."""

    type_id: str
    key: tuple[Any, ...]
    primary_key: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"EntityRecord({self.type_id}, {self.key!r})"

    def reference(self) -> dict[str, Any]:
        """The bare wire reference: type and key."""
        return {
            "__entity_type__": self.type_id,
            **dict(zip(self.primary_key, self.key, strict=True)),
        }


class Loader:
    """Loads entity records for one answer, merging repeated entities by identity."""

    def __init__(
        self,
        compiler: QueryCompiler,
        connection: sa.Connection,
        compute: ComputeContext,
    ) -> None:
        self.compiler = compiler
        self.tables = compiler.tables
        self.schema = compiler.schema
        self.connection = connection
        self.compute = compute
        self.identities: dict[tuple[str, tuple[Any, ...]], EntityRecord] = {}
        self._configurations: list[Configuration] | None = None

    def __repr__(self) -> str:
        return f"Loader(entities={len(self.identities)})"

    def run(
        self, compiled: CompiledQuery, projections: Sequence[ast.Projection]
    ) -> tuple[list[EntityRecord], int | None]:
        """Run the root select, load projections, and say where the next page starts."""
        rows = list(self.connection.execute(compiled.statement).mappings())
        next_offset = None
        if compiled.limit is not None and len(rows) > compiled.limit:
            rows = rows[: compiled.limit]
            next_offset = compiled.offset + compiled.limit
        tree = projection_tree(projections)
        records = self.load(compiled.entity_type, rows, tree)
        return records, next_offset

    def load(
        self, entity_type: EntityType, rows: Sequence[Row], tree: ProjectionTree
    ) -> list[EntityRecord]:
        """Turn rows of ``entity_type`` into records carrying the attributes in ``tree``."""
        records = [self.record(entity_type, row) for row in rows]
        for name, subtree in tree.items():
            if name not in entity_type.attributes:
                self._subtype_attribute(entity_type, name, records, rows, subtree)
                continue
            attribute = entity_type.attribute(name)
            if attribute.is_restricted:
                raise QueryError(f"{entity_type.id}.{name} cannot be projected.")
            if attribute.kind is AttributeKind.SCALAR:
                if subtree:
                    raise QueryError(f"{entity_type.id}.{name} is a value; it has no attributes.")
                self._scalar(entity_type, name, records, rows)
            else:
                self._relation(entity_type, name, records, rows, subtree)
        return records

    def _subtype_attribute(
        self,
        entity_type: EntityType,
        name: str,
        records: Sequence[EntityRecord],
        rows: Sequence[Row],
        subtree: ProjectionTree,
    ) -> None:
        """Load an attribute that only some subtypes have, for the rows of those subtypes."""
        self.compiler.owner(entity_type, name)  # raises when no subtype has it
        groups: dict[str, list[Row]] = {}
        for record, row in zip(records, rows, strict=True):
            if name in self.schema.get(record.type_id).attributes:
                groups.setdefault(record.type_id, []).append(row)
        # Loading again finds the same records by identity and adds the attribute to them.
        for type_id, group in groups.items():
            self.load(self.schema.get(type_id), group, {name: subtree})

    def record(self, entity_type: EntityType, row: Row) -> EntityRecord:
        """The record for ``row``, created on first sight, with its key and system values."""
        type_id = entity_type.id if entity_type.is_view_family else row[TYPE_COLUMN]
        concrete = self.schema.get(type_id)
        key = tuple(row[name] for name in concrete.primary_key)
        identity = (type_id, tuple(str(part) for part in key))
        record = self.identities.get(identity)
        if record is None:
            record = EntityRecord(type_id, key, concrete.primary_key)
            self.identities[identity] = record
        for name in concrete.system_attributes:
            if name in row and name not in record.values:
                record.values[name] = encode_value(concrete.attributes[name], row[name])
        return record

    def _scalar(
        self,
        entity_type: EntityType,
        name: str,
        records: Sequence[EntityRecord],
        rows: Sequence[Row],
    ) -> None:
        attribute = entity_type.attributes[name]
        if attribute.is_stored:
            for record, row in zip(records, rows, strict=True):
                record.values[name] = encode_value(attribute, row[name])
            return
        rule = COMPUTED_ATTRIBUTES.get(name)
        if rule is None:
            raise QueryError(f"{entity_type.id}.{name} is computed and cannot be projected yet.")
        values = rule(self.compute, self.connection, entity_type, rows)
        for record, value in zip(records, values, strict=True):
            record.values[name] = value

    def _relation(
        self,
        entity_type: EntityType,
        name: str,
        records: Sequence[EntityRecord],
        rows: Sequence[Row],
        subtree: ProjectionTree,
    ) -> None:
        relation = self.tables.relation(entity_type, name)
        target_type = self.schema.get(relation.target)
        if target_type.root.id == "CustomAttributeValue" and relation.name == "custom_attributes":
            self._custom_attributes(entity_type, target_type, records, rows, subtree)
            return
        if relation.is_collection:
            if relation.pairs:
                owner_columns = [local for local, _ in relation.pairs]
            else:
                owner_columns = list(entity_type.primary_key)
            owners = [tuple(row[c] for c in owner_columns) for row in rows]
            related = self._fetch_related(entity_type, name, owners)
            children = self.load(target_type, [row for _, row in related], subtree)
            grouped: dict[tuple[Any, ...], list[EntityRecord]] = defaultdict(list)
            for (owner, _), child in zip(related, children, strict=True):
                if child not in grouped[owner]:
                    grouped[owner].append(child)
            for record, owner in zip(records, owners, strict=True):
                record.values[name] = grouped.get(owner, [])
            return
        holder_columns = [local for local, _ in relation.pairs] or list(entity_type.primary_key)
        holders = [tuple(row[c] for c in holder_columns) for row in rows]
        related = self._fetch_related(entity_type, name, holders)
        children = self.load(target_type, [row for _, row in related], subtree)
        by_key = {owner: child for (owner, _), child in zip(related, children, strict=True)}
        for record, holder in zip(records, holders, strict=True):
            record.values[name] = by_key.get(holder)

    def _fetch_related(
        self, entity_type: EntityType, name: str, owners: Iterable[tuple[Any, ...]]
    ) -> list[tuple[tuple[Any, ...], Row]]:
        """Rows related to each owner key, as (owner key, row) pairs, in a few statements."""
        relation = self.tables.relation(entity_type, name)
        target_type = self.schema.get(relation.target)
        target = self.tables.of(target_type)
        keys = sorted({owner for owner in owners if None not in owner}, key=str)
        if not keys:
            return []
        if relation.tree == "ancestors":
            return self._ancestors([key[0] for key in keys])
        if relation.tree == "descendants":
            return self._descendants([key[0] for key in keys])
        if relation.derived == "latest_version":
            return self._latest_versions([key[0] for key in keys])
        if relation.tree or relation.derived:
            raise QueryError(f"{entity_type.id}.{name} is computed and cannot be projected yet.")
        if relation.link_table:
            link = self.tables.links[relation.link_table]
            match: list[sa.ColumnElement[Any]] = [link.c.owner_id]
            source: sa.FromClause = link.join(target, link.c.target_id == target.c.id)
        elif relation.through:
            link = self.tables.of(self.schema.get(relation.through))
            match = [link.c[b] for _, b in relation.pairs]
            onward = sa.and_(*(link.c[a] == target.c[b] for a, b in relation.onward))
            source = link.join(target, onward)
        else:
            match = [target.c[b] for _, b in relation.pairs]
            source = target
        filters = [*self.compiler.type_filter(target_type, target)]
        filters += [target.c[k] == v for k, v in relation.where.items()]
        labels = [column.label(f"_owner_{i}") for i, column in enumerate(match)]
        found: list[tuple[tuple[Any, ...], Row]] = []
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            if len(match) == 1:
                selector = match[0].in_([key[0] for key in chunk])
            else:
                selector = sa.tuple_(*match).in_(chunk)
            statement = sa.select(*target.c, *labels).select_from(source).where(selector, *filters)
            statement = statement.order_by(*(target.c[n] for n in target_type.primary_key))
            for row in self.connection.execute(statement).mappings():
                owner = tuple(row[label.name] for label in labels)
                found.append((owner, row))
        return found

    def _custom_attributes(
        self,
        entity_type: EntityType,
        value_type: EntityType,
        records: Sequence[EntityRecord],
        rows: Sequence[Row],
        subtree: ProjectionTree,
    ) -> None:
        """Dense custom attributes: one value per applicable configuration, default if unset."""
        extra = set(subtree) - {"key", "value", "configuration_id", "entity_id"}
        if extra:
            raise QueryError(
                f"custom_attributes.{sorted(extra)[0]} cannot be projected yet; "
                "custom attribute values carry key, value, configuration_id and entity_id."
            )
        if self._configurations is None:
            self._configurations = load_configurations(self.tables, self.connection)
        table = self.tables.families["CustomAttributeValue"]
        stored: dict[tuple[Any, Any], Any] = {}
        for row in self._rows_where(table, "entity_id", sorted({row["id"] for row in rows})):
            stored[(row["configuration_id"], row["entity_id"])] = row["value"]
        for record, row in zip(records, rows, strict=True):
            concrete = self.schema.get(record.type_id)
            values = []
            for configuration in applicable(self._configurations, concrete, row):
                key = (configuration.id, row["id"])
                value = stored.get(key, configuration.default)
                identity = (value_type.id, tuple(str(part) for part in key))
                item = self.identities.get(identity)
                if item is None:
                    item = EntityRecord(value_type.id, key, value_type.primary_key)
                    self.identities[identity] = item
                item.values.update(key=configuration.key, value=value)
                values.append(item)
            record.values["custom_attributes"] = values

    def _rows_where(self, table: sa.Table, column: str, values: Sequence[Any]) -> list[Row]:
        """All rows whose ``column`` is one of ``values``, a statement per chunk."""
        found: list[Row] = []
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            statement = sa.select(*table.c).where(table.c[column].in_(chunk))
            found.extend(self.connection.execute(statement).mappings())
        return found

    def _ancestors(self, ids: Sequence[Any]) -> list[tuple[tuple[Any, ...], Row]]:
        """Each context's typed ancestors, from the top down, through the tree index."""
        return self._tree(ids, ancestors=True)

    def _descendants(self, ids: Sequence[Any]) -> list[tuple[tuple[Any, ...], Row]]:
        """Every typed context below each owner, nearest first, through the tree index."""
        return self._tree(ids, ancestors=False)

    def _tree(self, ids: Sequence[Any], *, ancestors: bool) -> list[tuple[tuple[Any, ...], Row]]:
        table = self.tables.families["Context"]
        closure = self.tables.closure
        near, far = (
            (closure.c.descendant_id, closure.c.ancestor_id)
            if ancestors
            else (closure.c.ancestor_id, closure.c.descendant_id)
        )
        depth = closure.c.depth.desc() if ancestors else closure.c.depth.asc()
        pairs: list[tuple[tuple[Any, ...], Row]] = []
        for start in range(0, len(ids), CHUNK):
            statement = (
                sa.select(*table.c, near.label("_owner"))
                .select_from(closure.join(table, far == table.c.id))
                .where(near.in_(ids[start : start + CHUNK]), table.c[TYPE_COLUMN] != "Project")
                .order_by(near, depth, table.c.id)
            )
            pairs.extend(
                ((row["_owner"],), row) for row in self.connection.execute(statement).mappings()
            )
        return pairs

    def _latest_versions(self, ids: Sequence[Any]) -> list[tuple[tuple[Any, ...], Row]]:
        """Each asset's version with the highest number."""
        table = self.tables.families["AssetVersion"]
        latest: dict[Any, Row] = {}
        for row in self._rows_where(table, "asset_id", list(ids)):
            best = latest.get(row["asset_id"])
            if best is None or (row["version"] or 0) > (best["version"] or 0):
                latest[row["asset_id"]] = row
        return [((asset,), row) for asset, row in latest.items()]


def projection_tree(projections: Sequence[ast.Projection]) -> ProjectionTree:
    """Merge dotted projection paths into a tree: ``a.b, a.c`` -> ``{a: {b: {}, c: {}}}``."""
    tree: ProjectionTree = {}
    for projection in projections:
        if projection.function:
            raise QueryError("Aggregate functions need 'group by'.")
        node = tree
        for name in projection.path:
            node = node.setdefault(name, {})
    return tree


def render(records: Sequence[EntityRecord], *, normalize: bool = True) -> list[dict[str, Any]]:
    """Render records as wire objects.

    With ``normalize``, an entity's attributes are written at its first occurrence (depth
    first) and every later occurrence is a bare reference, as the real server does; that also
    breaks cycles.
    """
    seen: set[int] = set()

    def encode(record: EntityRecord, path: frozenset[int]) -> dict[str, Any]:
        if id(record) in path or (normalize and id(record) in seen):
            return record.reference()
        seen.add(id(record))
        inner = path | {id(record)}
        out = record.reference()
        for name, value in record.values.items():
            if isinstance(value, EntityRecord):
                out[name] = encode(value, inner)
            elif isinstance(value, list) and value and isinstance(value[0], EntityRecord):
                out[name] = [encode(item, inner) for item in value]
            else:
                out[name] = value
        return out

    return [encode(record, frozenset()) for record in records]
