"""Projected references read in the root statement, joined to it.

``select name, parent.name, status.name from Task ... limit 500`` reads each task's parent and
status in the same statement as the tasks (a left join on the key each holds), instead of
sending their 500 keys back in two more statements. Collections, and references that do not
join on one column, are loaded afterwards as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shotbase.query import ast
from shotbase.schema.model import AttributeKind, EntityType
from shotbase.schema.relations import Relation
from shotbase.store.tables import Tables

__all__ = ["JoinTree", "JoinedReference", "is_plain_reference", "join_references"]

Columns = Callable[[EntityType, tuple[str, ...]], list[sa.Column[Any]]]
TypeFilter = Callable[[EntityType, sa.FromClause], list[sa.ColumnElement[bool]]]


@dataclass(frozen=True, slots=True)
class JoinedReference:
    """A reference read in the root statement: its rows come back under ``labels``."""

    name: str
    target_type: EntityType
    labels: tuple[tuple[str, str], ...]  # (label in the root row, column of the target)
    key_label: str  # the label of the target's key: NULL when nothing is referenced

    def __repr__(self) -> str:
        return f"JoinedReference({self.name!r} -> {self.target_type.id})"

    def rows(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """The referenced row of each root row, None where the reference is empty."""
        labels, key = self.labels, self.key_label
        return [
            {column: row[label] for label, column in labels} if row[key] is not None else None
            for row in rows
        ]


def is_plain_reference(relation: Relation, target_type: EntityType) -> bool:
    """A reference held by one column of the owner naming the target's key."""
    return (
        not relation.is_collection
        and len(relation.pairs) == 1
        and (relation.pairs[0][1],) == target_type.primary_key
        and not (relation.where or relation.through or relation.link_table)
        and not (relation.tree or relation.derived)
    )


class JoinTree:
    """The root table left-joined to the rows plain references name, each joined once."""

    def __init__(self, tables: Tables, root: sa.FromClause, type_filter: TypeFilter) -> None:
        self.tables, self.source, self._type_filter = tables, root, type_filter
        self._targets: dict[tuple[sa.FromClause, str], sa.FromClause] = {}

    def __repr__(self) -> str:
        return f"JoinTree(joins={len(self._targets)})"

    def target(
        self, owner: sa.FromClause, relation: Relation, target_type: EntityType
    ) -> sa.FromClause:
        """The joined rows ``relation`` of ``owner`` names (NULLs where it names none)."""
        found = self._targets.get((owner, relation.name))
        if found is None:
            found = self.tables.of(target_type).alias()
            local, remote = relation.pairs[0]
            on = sa.and_(owner.c[local] == found.c[remote], *self._type_filter(target_type, found))
            self.source = self.source.outerjoin(found, on)
            self._targets[(owner, relation.name)] = found
        return found


def join_references(
    tree: JoinTree,
    entity_type: EntityType,
    table: sa.FromClause,
    projections: Sequence[ast.Projection],
    *,
    columns: Columns,
) -> tuple[list[sa.ColumnElement[Any]], tuple[JoinedReference, ...]]:
    """Join the plain references ``projections`` go through to the root ``table``.

    Returns the referenced rows' columns to select, and how to find them in a root row.
    """
    tables = tree.tables
    names = dict.fromkeys(projection.path[0] for projection in projections)
    joined: list[JoinedReference] = []
    added: list[sa.ColumnElement[Any]] = []
    for name in names:
        attribute = entity_type.attributes.get(name)
        if attribute is None or attribute.kind is not AttributeKind.REFERENCE:
            continue
        if attribute.is_restricted:
            continue
        relation = tables.relation(entity_type, name)
        target_type = tables.schema.get(relation.target)
        if not is_plain_reference(relation, target_type):
            continue
        inner = tuple(
            dict.fromkeys(p.path[1] for p in projections if p.path[0] == name and len(p.path) > 1)
        )
        prefix = f"_joined_{len(joined)}"
        target = tree.target(table, relation, target_type)
        labels = []
        for column in columns(target_type, inner):
            label = f"{prefix}_{column.name}"
            added.append(target.c[column.name].label(label))
            labels.append((label, column.name))
        key_label = f"{prefix}_{relation.pairs[0][1]}"
        joined.append(JoinedReference(name, target_type, tuple(labels), key_label))
    return added, tuple(joined)
