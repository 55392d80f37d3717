"""Compile a query's syntax tree into SQLAlchemy Core, every value a bound parameter.

:class:`QueryCompiler` is the entry point: it caches compiled queries and composes the steps,
each in a module of its own. :mod:`~shotbase.query.resolution` resolves names against the
schema, :mod:`~shotbase.query.conditions` compiles where-expressions,
:mod:`~shotbase.query.root_select` builds the root select or the aggregate select, and
:mod:`~shotbase.query.compiled` holds what compiling produces.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Any

import sqlalchemy as sa

from shotbase.query import ast, resolution, root_select
from shotbase.query.columns import needed_columns
from shotbase.query.compiled import CompiledQuery, Prefetch
from shotbase.query.conditions import ConditionCompiler
from shotbase.query.resolution import Condition
from shotbase.schema.model import EntityType
from shotbase.store.tables import Tables

__all__ = ["MAX_BOUND_MATCHES", "CompiledQuery", "Prefetch", "QueryCompiler"]

# A reference filter's matches are bound into the root select as values when there are at
# most this many; with more, the database finds them itself in a sub-query.
MAX_BOUND_MATCHES = 1000


class QueryCompiler:
    """Turns :class:`ast.Query` values into SQL for one set of tables."""

    def __init__(self, tables: Tables, *, cache_size: int = 1024) -> None:
        self.tables = tables
        self.schema = tables.schema
        # Compiled statements by query: a statement is immutable and carries its own values,
        # so a query asked again (a poll, a page re-read) skips building SQL altogether.
        self._cache: OrderedDict[tuple[ast.Query, int | None, bool], CompiledQuery] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._columns: dict[tuple[str, tuple[str, ...]], list[sa.Column[Any]]] = {}
        # Statements the loader builds once and runs with new values (keys to fetch).
        self.statements: dict[tuple[Any, ...], Any] = {}
        # Conditions with their matches in sub-queries (aggregates): nothing to collect, so
        # one serves all.
        self._conditions = ConditionCompiler(tables)

    def __repr__(self) -> str:
        return f"QueryCompiler({self.tables!r})"

    def columns(self, entity_type: EntityType, names: tuple[str, ...]) -> list[sa.Column[Any]]:
        """The columns to read from ``entity_type``'s table to load the attributes ``names``."""
        key = (entity_type.id, names)
        columns = self._columns.get(key)
        if columns is None:
            columns = needed_columns(self.tables, entity_type, names)
            self._columns[key] = columns
        return columns

    def compile(
        self, query: ast.Query, *, page_size: int | None = None, bind_matches: bool = False
    ) -> CompiledQuery:
        """Compile the root select of ``query``: keys and type of each matching row, in order.

        With ``bind_matches``, reference filters at the top of the ``where`` compare with
        values read first (:meth:`read_matches`) instead of a sub-query: the database then
        plans for the actual project or status. Otherwise a project with no tasks looks like
        any other, and a page of its tasks walks every task in the table in key order
        looking for the first one.

        Raises:
            UnknownEntityTypeError, UnknownAttributeError, QueryError, ValidationError.
        """
        key = (query, page_size, bind_matches)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        conditions = ConditionCompiler(
            self.tables, max_bound_matches=MAX_BOUND_MATCHES if bind_matches else None
        )
        compiled = root_select.root_select(conditions, self.columns, query, page_size)
        if conditions.prefetches:
            compiled = dataclasses.replace(compiled, prefetch=tuple(conditions.prefetches))
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled

    def read_matches(
        self, compiled: CompiledQuery, connection: sa.Connection
    ) -> dict[str, list[Any]] | None:
        """The values to run ``compiled.statement`` with: each prefetch's matches, in order
        (a later one may use an earlier one's). None when one has more than its ``most``
        (:data:`MAX_BOUND_MATCHES`): compile without ``bind_matches`` then."""
        values: dict[str, list[Any]] = {}
        for prefetch in compiled.prefetch:
            found = list(connection.execute(prefetch.statement, values).scalars())
            if len(found) > prefetch.most:
                return None
            values[prefetch.key] = found
        return values

    def continue_after(self, compiled: CompiledQuery, last_key: Any, offset: int) -> CompiledQuery:
        """``compiled`` resumed after the row whose key is ``last_key``
        (see :func:`~shotbase.query.root_select.continue_after`)."""
        return root_select.continue_after(compiled, last_key, offset)

    def compile_aggregate(self, query: ast.Query) -> tuple[sa.Select[Any], list[str]]:
        """Compile ``select count(id), status_id from Task group by status_id``
        (see :func:`~shotbase.query.root_select.aggregate_select`).

        Raises:
            QueryError: If a selected value is neither aggregated nor grouped.
        """
        return root_select.aggregate_select(self._conditions, query)

    def type_filter(self, entity_type: EntityType, table: sa.FromClause) -> list[Condition]:
        """Rows of ``entity_type`` and its subtypes only, when its table holds other types."""
        return resolution.type_filter(entity_type, table)

    def owner(
        self, entity_type: EntityType, name: str, *, relation: bool | None = None
    ) -> EntityType:
        """The type whose attribute ``name`` a path on ``entity_type`` means
        (see :func:`~shotbase.query.resolution.owner`).

        Raises:
            UnknownAttributeError: If neither the type nor any subtype has the attribute.
        """
        return resolution.owner(entity_type, name, relation=relation)
