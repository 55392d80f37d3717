"""The context tree's closure table: every (descendant, ancestor, depth) pair, kept current.

``ancestors any (...)``, ``descendants any (...)`` and the ``ancestors``/``descendants``
projections read it with one indexed join instead of walking the tree a level at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from shotbase.store.engine import bulk_insert
from shotbase.store.tables import TYPE_COLUMN, Tables

__all__ = ["ContextTree"]

CHUNK = 500


class ContextTree:
    """Maintains ``context_ancestor`` for one connection."""

    def __init__(self, tables: Tables, connection: sa.Connection) -> None:
        self.tables = tables
        self.connection = connection
        self.closure = tables.closure
        self.context = tables.families["Context"]

    def __repr__(self) -> str:
        return f"ContextTree({self.connection!r})"

    def add(self, rows: Mapping[Any, Mapping[str, Any]]) -> None:
        """Record new contexts (rows keyed by ``(id,)``), whose parents may be new too."""
        stored_parents = sorted(
            {row["parent_id"] for row in rows.values() if row.get("parent_id")}
            - {key[0] for key in rows}
        )
        chains: dict[str, list[tuple[str, int]]] = {}
        for parent, ancestors in self._ancestor_chains(stored_parents).items():
            chains[parent] = ancestors
        by_id = {row["id"]: row for row in rows.values()}

        def chain(context_id: str, seen: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
            """(ancestor, depth) pairs of a context, nearest first."""
            if context_id in chains:
                return chains[context_id]
            row = by_id.get(context_id)
            parent = row.get("parent_id") if row else None
            if parent is None or context_id in seen:
                found: list[tuple[str, int]] = []
            else:
                above = chain(parent, seen | {context_id})
                found = [(parent, 1), *((ancestor, depth + 1) for ancestor, depth in above)]
            chains[context_id] = found
            return found

        links = [
            {"descendant_id": context_id, "ancestor_id": ancestor, "depth": depth}
            for context_id in by_id
            for ancestor, depth in chain(context_id)
        ]
        bulk_insert(self.connection, self.closure, links)

    def move(self, context_id: str) -> list[str]:
        """Re-link a stored context after its parent changed; return it and its descendants."""
        below = self._descendant_depths([context_id])
        subtree = [context_id, *below]
        for chunk in _chunks(subtree):
            self.connection.execute(
                self.closure.delete().where(
                    self.closure.c.descendant_id.in_(chunk),
                    self.closure.c.ancestor_id.not_in(subtree),
                )
            )
        parent = self.connection.execute(
            sa.select(self.context.c.parent_id).where(self.context.c.id == context_id)
        ).scalar()
        if parent is None:
            return subtree
        above = [(parent, 1)] + [
            (ancestor, depth + 1) for ancestor, depth in self._ancestor_chains([parent])[parent]
        ]
        links = [
            {"descendant_id": node, "ancestor_id": ancestor, "depth": depth + offset}
            for node, offset in ((context_id, 0), *below.items())
            for ancestor, depth in above
        ]
        bulk_insert(self.connection, self.closure, links)
        return subtree

    def remove(self, ids: Iterable[str]) -> None:
        """Forget deleted contexts."""
        for chunk in _chunks(sorted(ids)):
            self.connection.execute(
                self.closure.delete().where(
                    sa.or_(
                        self.closure.c.descendant_id.in_(chunk),
                        self.closure.c.ancestor_id.in_(chunk),
                    )
                )
            )

    def rebuild(self) -> int:
        """Recompute the whole table from ``parent_id`` (after an upgrade); return its size."""
        self.connection.execute(self.closure.delete())
        statement = sa.select(
            self.context.c.id, self.context.c.parent_id, self.context.c[TYPE_COLUMN]
        )
        rows = {
            (row.id,): {"id": row.id, "parent_id": row.parent_id}
            for row in self.connection.execute(statement)
        }
        self.add(rows)
        return int(
            self.connection.execute(sa.select(sa.func.count()).select_from(self.closure)).scalar()
            or 0
        )

    def _ancestor_chains(self, ids: Sequence[str]) -> dict[str, list[tuple[str, int]]]:
        chains: dict[str, list[tuple[str, int]]] = {context_id: [] for context_id in ids}
        for chunk in _chunks(list(ids)):
            statement = (
                sa.select(
                    self.closure.c.descendant_id, self.closure.c.ancestor_id, self.closure.c.depth
                )
                .where(self.closure.c.descendant_id.in_(chunk))
                .order_by(self.closure.c.depth)
            )
            for descendant, ancestor, depth in self.connection.execute(statement):
                chains[descendant].append((ancestor, depth))
        return chains

    def _descendant_depths(self, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(list(ids)):
            statement = sa.select(self.closure.c.descendant_id, self.closure.c.depth).where(
                self.closure.c.ancestor_id.in_(chunk)
            )
            found.update(
                (descendant, depth) for descendant, depth in self.connection.execute(statement)
            )
        return found


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]
