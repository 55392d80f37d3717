"""Run a compiled query and load its projections into wire-ready entity records.

The root rows come from one statement; every projected reference or collection then costs one
more statement for all rows at once (chunked for very long key lists), never one per row.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shotbase.errors import QueryError
from shotbase.query import ast
from shotbase.query.compiler import CompiledQuery, QueryCompiler
from shotbase.query.computed import COMPUTED_ATTRIBUTES, ComputeContext, thumbnail_id_column
from shotbase.schema.model import Attribute, AttributeKind, DataType, EntityType
from shotbase.schema.values import encode_value
from shotbase.store.custom_attributes import Configuration, applicable, load_configurations
from shotbase.store.tables import TYPE_COLUMN
from shotbase.store.types import Row

__all__ = ["EntityRecord", "Loader", "ProjectionTree", "render"]

CHUNK = 2000  # keys a statement sends; a page of 1,000 entities takes one
ProjectionTree = dict[str, "ProjectionTree"]


@dataclass(eq=False, slots=True)
class EntityRecord:
    """One entity of an answer; shared by every place the same entity appears."""

    type_id: str
    key: tuple[Any, ...]
    primary_key: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)  # attribute values, wire-ready
    related: dict[str, Any] = field(default_factory=dict)  # record, list of records or None

    def __repr__(self) -> str:
        return f"EntityRecord({self.type_id}, {self.key!r})"

    def reference(self) -> dict[str, Any]:
        """The bare wire reference: type and key."""
        if len(self.key) == 1:
            return {"__entity_type__": self.type_id, self.primary_key[0]: self.key[0]}
        out = {"__entity_type__": self.type_id}
        out.update(zip(self.primary_key, self.key, strict=True))
        return out


def identity_of(type_id: str, key: tuple[Any, ...]) -> tuple[str, tuple[str, ...]]:
    """How an answer tells entities apart: type and key, compared as text."""
    return (type_id, tuple([str(part) for part in key]))


Encoder = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Shape:
    """What building a record of one concrete type reads from its row: the primary key and
    the system attributes, each with how its value is written (None: as it is)."""

    primary_key: tuple[str, ...]
    system: tuple[tuple[str, Encoder | None], ...]
    single: str | None  # the one primary key attribute, when the key has one


def _encoder(attribute: Attribute) -> Encoder | None:
    if attribute.data_type in (DataType.DATETIME, DataType.NUMBER, DataType.VARIABLE):
        return functools.partial(encode_value, attribute)
    return None


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
        self._shapes: dict[str, _Shape] = {}

    def __repr__(self) -> str:
        return f"Loader(entities={len(self.identities)})"

    def run(
        self,
        compiled: CompiledQuery,
        projections: Sequence[ast.Projection],
        values: dict[str, Any] | None = None,
    ) -> tuple[list[EntityRecord], int | None]:
        """Run the root select (with ``values`` from :meth:`QueryCompiler.read_matches`),
        load projections, and say where the next page starts."""
        rows = self._fetch(compiled.statement, values)
        next_offset = None
        if compiled.limit is not None and len(rows) > compiled.limit:
            rows = rows[: compiled.limit]
            next_offset = compiled.offset + compiled.limit
        tree = projection_tree(projections)
        joined = {reference.name: reference.rows(rows) for reference in compiled.joined}
        records = self.load(compiled.entity_type, rows, tree, joined)
        return records, next_offset

    def load(
        self,
        entity_type: EntityType,
        rows: Sequence[Row],
        tree: ProjectionTree,
        joined: dict[str, list[dict[str, Any] | None]] | None = None,
    ) -> list[EntityRecord]:
        """Turn rows of ``entity_type`` into records carrying the attributes in ``tree``;
        ``joined`` holds the referenced row of each row for references read with them."""
        records = self.records(entity_type, rows)
        for name, subtree in tree.items():
            if joined and name in joined:
                self._joined(entity_type, name, records, joined[name], subtree)
                continue
            if name not in entity_type.attributes:
                self._subtype_attribute(entity_type, name, records, rows, subtree)
                continue
            attribute = entity_type.attribute(name)
            if attribute.is_restricted:
                raise QueryError(
                    f"{entity_type.id}.{name} cannot be selected; it can only be used in a filter."
                )
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

    def records(self, entity_type: EntityType, rows: Sequence[Row]) -> list[EntityRecord]:
        """The record of each row, created on first sight, with its key and system values."""
        identities, shapes = self.identities, self._shapes
        fixed = entity_type.id if entity_type.is_view_family else None
        records = []
        for row in rows:
            type_id = fixed or row[TYPE_COLUMN]
            shape = shapes.get(type_id) or self._shape(type_id)
            single = shape.single
            if single is not None:
                part = row[single]
                key: tuple[Any, ...] = (part,)
                identity: tuple[str, tuple[str, ...]] = (type_id, (str(part),))
            else:
                key = tuple([row[name] for name in shape.primary_key])
                identity = identity_of(type_id, key)
            record = identities.get(identity)
            if record is None:
                record = EntityRecord(type_id, key, shape.primary_key)
                identities[identity] = record
            values = record.values
            for name, encode in shape.system:
                if name not in values and name in row:
                    value = row[name]
                    values[name] = value if encode is None else encode(value)
            records.append(record)
        return records

    def _shape(self, type_id: str) -> _Shape:
        concrete = self.schema.get(type_id)
        system = tuple(
            (name, _encoder(concrete.attributes[name])) for name in concrete.system_attributes
        )
        key = concrete.primary_key
        shape = _Shape(key, system, key[0] if len(key) == 1 else None)
        self._shapes[type_id] = shape
        return shape

    def _fetch(
        self, statement: sa.Executable, parameters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The rows of ``statement`` as plain dicts (cheaper to read than result rows)."""
        result = self.connection.execute(statement, parameters)
        keys = list(result.keys())
        return [dict(zip(keys, row)) for row in result]  # noqa: B905 - one length by design

    def _scalar(
        self,
        entity_type: EntityType,
        name: str,
        records: Sequence[EntityRecord],
        rows: Sequence[Row],
    ) -> None:
        attribute = entity_type.attributes[name]
        if attribute.is_stored:
            encode = _encoder(attribute)
            for record, row in zip(records, rows, strict=True):
                value = row[name]
                record.values[name] = value if encode is None else encode(value)
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
            related = self._fetch_related(entity_type, name, owners, tuple(subtree))
            children = self.load(target_type, [row for _, row in related], subtree)
            grouped: dict[tuple[Any, ...], list[EntityRecord]] = defaultdict(list)
            for (owner, _), child in zip(related, children, strict=True):
                if child not in grouped[owner]:
                    grouped[owner].append(child)
            for record, owner in zip(records, owners, strict=True):
                record.related[name] = grouped.get(owner, [])
            return
        holder_columns = [local for local, _ in relation.pairs] or list(entity_type.primary_key)
        holders = [tuple(row[c] for c in holder_columns) for row in rows]
        related = self._fetch_related(entity_type, name, holders, tuple(subtree))
        children = self.load(target_type, [row for _, row in related], subtree)
        by_key = {owner: child for (owner, _), child in zip(related, children, strict=True)}
        for record, holder in zip(records, holders, strict=True):
            record.related[name] = by_key.get(holder)

    def _joined(
        self,
        entity_type: EntityType,
        name: str,
        records: Sequence[EntityRecord],
        targets: Sequence[dict[str, Any] | None],
        subtree: ProjectionTree,
    ) -> None:
        """Set a reference whose rows came with the root rows."""
        target_type = self.schema.get(self.tables.relation(entity_type, name).target)
        children = iter(
            self.load(target_type, [row for row in targets if row is not None], subtree)
        )
        for record, row in zip(records, targets, strict=True):
            record.related[name] = None if row is None else next(children)

    def _related_select(
        self, entity_type: EntityType, name: str, names: tuple[str, ...]
    ) -> tuple[sa.Select[Any], int]:
        """``select <target columns> ... where <owner key> in :keys``, built once per relation
        and projection, and how many columns the owner key has."""
        cache_key = ("related", entity_type.id, name, names)
        cached = self.compiler.statements.get(cache_key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        relation = self.tables.relation(entity_type, name)
        target_type = self.schema.get(relation.target)
        target = self.tables.of(target_type)
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
        keys: sa.BindParameter[Any] = sa.bindparam("keys", expanding=True)
        selector = match[0].in_(keys) if len(match) == 1 else sa.tuple_(*match).in_(keys)
        columns = self.compiler.columns(target_type, names)
        statement = sa.select(*columns, *labels).select_from(source).where(selector, *filters)
        statement = statement.order_by(*(target.c[n] for n in target_type.primary_key))
        self.compiler.statements[cache_key] = (statement, len(match))
        return statement, len(match)

    def _fetch_related(
        self,
        entity_type: EntityType,
        name: str,
        owners: Iterable[tuple[Any, ...]],
        names: tuple[str, ...],
    ) -> list[tuple[tuple[Any, ...], Row]]:
        """Rows related to each owner key, as (owner key, row) pairs, in a few statements;
        each row has the columns that loading ``names`` on it reads."""
        relation = self.tables.relation(entity_type, name)
        keys = sorted({owner for owner in owners if None not in owner}, key=str)
        if not keys:
            return []
        if relation.tree:
            columns = self.compiler.columns(self.schema.get(relation.target), names)
            return self._tree(
                [key[0] for key in keys], columns, ancestors=relation.tree == "ancestors"
            )
        if relation.derived == "latest_version":
            return self._latest_versions([key[0] for key in keys])
        if relation.derived == "thumbnail":
            columns = self.compiler.columns(self.schema.get(relation.target), names)
            return self._thumbnails([key[0] for key in keys], columns)
        if relation.tree or relation.derived:
            raise QueryError(f"{entity_type.id}.{name} is computed and cannot be projected yet.")
        statement, width = self._related_select(entity_type, name, names)
        found: list[tuple[tuple[Any, ...], Row]] = []
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            selected = [key[0] for key in chunk] if width == 1 else chunk
            for row in self._fetch(statement, {"keys": selected}):
                owner = tuple(row[f"_owner_{i}"] for i in range(width))
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
                identity = identity_of(value_type.id, key)
                item = self.identities.get(identity)
                if item is None:
                    item = EntityRecord(value_type.id, key, value_type.primary_key)
                    self.identities[identity] = item
                item.values.update(key=configuration.key, value=value)
                values.append(item)
            record.related["custom_attributes"] = values

    def _rows_where(self, table: sa.Table, column: str, values: Sequence[Any]) -> list[Row]:
        """All rows whose ``column`` is one of ``values``, a statement per chunk."""
        found: list[Row] = []
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            statement = sa.select(*table.c).where(table.c[column].in_(chunk))
            found.extend(self._fetch(statement))
        return found

    def _tree(
        self, ids: Sequence[Any], columns: Sequence[sa.Column[Any]], *, ancestors: bool
    ) -> list[tuple[tuple[Any, ...], Row]]:
        """Each context's typed ancestors from the top down (``ancestors``), or every typed
        context below it nearest first, through the tree index."""
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
                sa.select(*columns, near.label("_owner"))
                .select_from(closure.join(table, far == table.c.id))
                .where(near.in_(ids[start : start + CHUNK]), table.c[TYPE_COLUMN] != "Project")
                .order_by(near, depth, table.c.id)
            )
            pairs.extend(((row["_owner"],), row) for row in self._fetch(statement))
        return pairs

    def _thumbnails(
        self, ids: Sequence[Any], columns: Sequence[sa.Column[Any]]
    ) -> list[tuple[tuple[Any, ...], Row]]:
        """Each review session's thumbnail component, the one its ``thumbnail_id`` names."""
        owner = self.tables.families["ReviewSession"]
        component = self.tables.families["Component"]
        names = component.c.id == thumbnail_id_column(self.tables, owner)
        pairs: list[tuple[tuple[Any, ...], Row]] = []
        for start in range(0, len(ids), CHUNK):
            statement = (
                sa.select(*columns, owner.c.id.label("_owner"))
                .select_from(owner.join(component, names))
                .where(owner.c.id.in_(ids[start : start + CHUNK]))
            )
            pairs.extend(((row["_owner"],), row) for row in self._fetch(statement))
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
    inside: set[int] = set()  # the records on the path being written, to break cycles

    def encode(record: EntityRecord) -> dict[str, Any]:
        marker = id(record)
        if marker in inside or (normalize and marker in seen):
            return record.reference()
        seen.add(marker)
        out = record.reference()
        out.update(record.values)
        if record.related:
            inside.add(marker)
            for name, value in record.related.items():
                if value is None:
                    out[name] = None
                elif type(value) is list:
                    out[name] = [encode(item) for item in value]
                else:
                    out[name] = encode(value)
            inside.discard(marker)
        return out

    return [encode(record) for record in records]
