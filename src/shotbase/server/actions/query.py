"""The ``query`` action."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any

from shotbase.query.ast import Projection, Query
from shotbase.query.compiler import CompiledQuery
from shotbase.query.computed import ComputeContext
from shotbase.query.loader import Loader, render
from shotbase.query.parser import parse
from shotbase.schema.model import EntityType
from shotbase.server.actions.base import ActionContext, require

__all__ = ["query"]


def query(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Run a query: ``{"action": "query", "data": [...], "metadata": {"next": {"offset"}}}``."""
    expression = require(operation, "expression", str)
    context.flush()
    parsed = parse(expression)
    state = context.state
    if parsed.group_by or any(projection.function for projection in parsed.projections):
        return _aggregate(context, parsed)
    if not parsed.projections:
        entity_type = state.schema.get(parsed.entity_type)
        defaults = tuple(Projection((name,)) for name in entity_type.default_projections)
        parsed = dataclasses.replace(parsed, projections=defaults)
    cursor = None if context.changes else _cursor_key(state.schema.get(parsed.entity_type), parsed)
    version = state.page_cursors.version
    after = state.page_cursors.find(cursor, parsed.offset or 0) if cursor is not None else None
    root = parsed if after is None else dataclasses.replace(parsed, offset=None)
    compiled, values = _compiled(context, root)
    if after is not None:
        compiled = state.compiler.continue_after(compiled, after, parsed.offset or 0)
    projections = parsed.projections
    loader = Loader(
        state.compiler, context.connection, ComputeContext(state.tables, context.base_url)
    )
    records, next_offset = loader.run(compiled, projections, values)
    if cursor is not None and next_offset is not None and records:
        state.page_cursors.remember(cursor, next_offset, records[-1].key[0], version)
    normalize = context.options.get("denormalize") not in ("1", "true")
    return {
        "action": "query",
        "data": render(records, normalize=normalize),
        "metadata": {"next": {"offset": next_offset}},
    }


def _compiled(context: ActionContext, parsed: Query) -> tuple[CompiledQuery, dict[str, Any]]:
    """The root select of ``parsed`` and the values to run it with.

    Where a reference filter compares a column the database plans better for with its
    values (:class:`~shotbase.store.planner_statistics.ColumnValues`: a project, a status),
    its matches are read first and bound (when there are few of them), so that the plan
    fits the actual project: PostgreSQL then knows how many rows it holds, SQLite walks the
    index of that one project. Otherwise the database finds the matches in sub-queries, and
    no round trip is spent.
    """
    compiler, page_size = context.state.compiler, context.state.settings.page_size_limit
    compiled = compiler.compile(parsed, page_size=page_size, bind_matches=True)
    if not compiled.prefetch:
        return compiled, {}  # no reference filter: the same statement either way
    column_values, connection = context.state.column_values, context.connection
    if not any(column_values.worth_binding(connection, *each.column) for each in compiled.prefetch):
        return compiler.compile(parsed, page_size=page_size), {}
    values = compiler.read_matches(compiled, connection)
    if values is None:
        return compiler.compile(parsed, page_size=page_size), {}
    return compiled, values


def _cursor_key(entity_type: EntityType, parsed: Query) -> Query | None:
    """The query without paging, when its pages may continue from the last id (see
    :mod:`shotbase.server.page_cursors`): ordered by a single-column primary key alone."""
    if parsed.order_by or len(entity_type.primary_key) != 1:
        return None
    return dataclasses.replace(parsed, offset=None, limit=None)


def _aggregate(context: ActionContext, parsed: Query) -> Any:
    """Aggregates answer with plain objects, one per group, not entities."""
    statement, keys = context.state.compiler.compile_aggregate(parsed)
    data = [
        {key: _plain(value) for key, value in zip(keys, row, strict=True)}
        for row in context.connection.execute(statement)
    ]
    return {"action": "query", "data": data, "metadata": {"next": {"offset": None}}}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"__type__": "datetime", "value": value.replace(microsecond=0).isoformat()}
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value
