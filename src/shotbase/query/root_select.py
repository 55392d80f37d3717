"""Build the root statement of a query: the select of its rows, or of its aggregates.

The root select reads the matching rows' keys and projected columns, with the plain
references the projections and ``order by`` go through left-joined to it, in order and one
page at a time (one row more than the page tells whether another follows). An aggregate
query (``select count(id), status_id from Task group by status_id``) compiles to one select
of its values instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shotbase.errors import QueryError
from shotbase.query import ast
from shotbase.query.compiled import CompiledQuery
from shotbase.query.conditions import ConditionCompiler
from shotbase.query.joins import Columns, JoinTree, is_plain_reference, join_references
from shotbase.query.resolution import (
    owner,
    related,
    resolve_attribute,
    scalar_column,
    type_filter,
)
from shotbase.schema.model import AttributeKind, EntityType
from shotbase.store.tables import Tables

__all__ = ["aggregate_select", "continue_after", "order_column", "root_select"]

AGGREGATES: dict[str, Any] = {
    "count": sa.func.count,
    "sum": sa.func.sum,
    "avg": sa.func.avg,
    "min": sa.func.min,
    "max": sa.func.max,
}


def root_select(
    conditions: ConditionCompiler, columns: Columns, query: ast.Query, page_size: int | None
) -> CompiledQuery:
    """The select of ``query``'s rows: keys and type of each, their projected columns, in order.

    Args:
        conditions: Compiles the ``where`` (and collects the matches it binds).
        columns: The columns to read from a type's table to load some of its attributes.
        query: The query to compile.
        page_size: The most rows a page may hold, whatever the query's ``limit``.
    Raises:
        UnknownEntityTypeError, UnknownAttributeError, QueryError, ValidationError.
    """
    tables = conditions.tables
    entity_type = tables.schema.get(query.entity_type)
    table = tables.of(entity_type)
    names = tuple(dict.fromkeys(projection.path[0] for projection in query.projections))
    selected: list[sa.ColumnElement[Any]] = [*(columns(entity_type, names) if names else table.c)]
    tree = JoinTree(tables, table, type_filter)
    order = []
    for key in query.order_by:
        column = _order_by(tables, entity_type, table, key.path, tree)
        order.append(column.desc() if key.descending else column.asc())
    added, joined = join_references(tree, entity_type, table, query.projections, columns=columns)
    statement = sa.select(*selected, *added).select_from(tree.source)
    statement = statement.where(*type_filter(entity_type, table))
    if query.where is not None:
        statement = statement.where(conditions.condition(entity_type, table, query.where, top=True))
    statement = statement.order_by(*order)
    statement = statement.order_by(*(table.c[name] for name in entity_type.primary_key))
    offset = query.offset or 0
    limit = query.limit if query.limit is not None else page_size
    if page_size is not None and limit is not None:
        limit = min(limit, page_size)
    if offset:
        statement = statement.offset(offset)
    if limit is not None:
        # One row more than asked tells whether another page follows.
        statement = statement.limit(limit + 1)
    return CompiledQuery(entity_type, table, statement, offset, limit, joined)


def continue_after(compiled: CompiledQuery, last_key: Any, offset: int) -> CompiledQuery:
    """``compiled`` (ordered by its single primary key alone, with no offset) resumed after
    the row whose key is ``last_key``: the page at ``offset`` without reading the rows
    before it."""
    (name,) = compiled.entity_type.primary_key
    column = compiled.table.c[name]
    statement = compiled.statement.where(column > last_key)
    return dataclasses.replace(compiled, statement=statement, offset=offset)


def aggregate_select(
    conditions: ConditionCompiler, query: ast.Query
) -> tuple[sa.Select[Any], list[str]]:
    """Compile ``select count(id), status_id from Task group by status_id``.

    Returns the statement and the result keys: ``<function>_<attribute>`` for aggregates,
    the attribute name for grouped values.

    Raises:
        QueryError: If a selected value is neither aggregated nor grouped.
    """
    tables = conditions.tables
    entity_type = tables.schema.get(query.entity_type)
    table = tables.of(entity_type)
    grouped = []
    for path in query.group_by:
        grouped.append(_aggregate_column(tables, entity_type, table, path))
    columns, keys = [], []
    for projection in query.projections:
        column = _aggregate_column(tables, entity_type, table, projection.path)
        name = "_".join(projection.path)
        if projection.function is None:
            if projection.path not in query.group_by:
                raise QueryError(
                    f"'{'.'.join(projection.path)}' must be aggregated or listed in 'group by'."
                )
            columns.append(column)
            keys.append(name)
            continue
        function = AGGREGATES.get(projection.function)
        if function is None:
            known = ", ".join(sorted(AGGREGATES))
            raise QueryError(f"Unknown function {projection.function!r}; use one of {known}.")
        columns.append(function(column))
        keys.append(f"{projection.function}_{name}")
    # Each group says which group it is, as the reference's examples show.
    for path, column in zip(query.group_by, grouped, strict=True):
        if "_".join(path) not in keys:
            columns.append(column)
            keys.append("_".join(path))
    statement = sa.select(*columns).where(*type_filter(entity_type, table))
    if query.where is not None:
        statement = statement.where(conditions.condition(entity_type, table, query.where, top=True))
    if grouped:
        statement = statement.group_by(*grouped).order_by(*grouped)
    if query.offset:
        statement = statement.offset(query.offset)
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return statement, keys


def _aggregate_column(
    tables: Tables, entity_type: EntityType, table: sa.FromClause, path: Sequence[str]
) -> sa.ColumnElement[Any]:
    if len(path) != 1:
        raise QueryError(
            f"Aggregates and 'group by' take direct attributes, not {'.'.join(path)!r}."
        )
    return scalar_column(tables, entity_type, table, resolve_attribute(entity_type, path[0]))


def _order_by(
    tables: Tables,
    entity_type: EntityType,
    table: sa.FromClause,
    path: Sequence[str],
    tree: JoinTree,
) -> sa.ColumnElement[Any]:
    """The column to order by, on rows ``tree`` joins in.

    ``order by parent.parent.name`` left-joins the parent and its parent, as a hand-written
    query would; a step that is not a plain reference falls back to a sub-query.
    """
    first, *rest = path
    if not rest or first not in entity_type.attributes:
        return order_column(tables, entity_type, table, path)
    attribute = resolve_attribute(entity_type, first, relation=True)
    if attribute.kind is not AttributeKind.REFERENCE:
        return order_column(tables, entity_type, table, path)
    relation = tables.relation(entity_type, first)
    target_type = tables.schema.get(relation.target)
    if not is_plain_reference(relation, target_type):
        return order_column(tables, entity_type, table, path)
    target = tree.target(table, relation, target_type)
    return _order_by(tables, target_type, target, rest, tree)


def order_column(
    tables: Tables, entity_type: EntityType, table: sa.FromClause, path: Sequence[str]
) -> sa.ColumnElement[Any]:
    """A column, or a scalar subquery through references, to order rows by.

    Raises:
        UnknownAttributeError, QueryError.
    """
    first, *rest = path
    attribute = resolve_attribute(entity_type, first, relation=bool(rest))
    if not rest:
        return scalar_column(tables, entity_type, table, attribute)
    if attribute.kind is not AttributeKind.REFERENCE:
        raise QueryError(f"Cannot order by {'.'.join(path)}: {first} is not a reference.")
    relation = tables.relation(owner(entity_type, first, relation=True), first)
    target_type = tables.schema.get(relation.target)
    target = tables.of(target_type).alias()
    column = order_column(tables, target_type, target, rest)
    statement = related(tables, relation, table, target).with_only_columns(column).limit(1)
    return statement.scalar_subquery()
