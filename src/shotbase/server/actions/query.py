"""The ``query`` action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shotbase.query.computed import ComputeContext
from shotbase.query.loader import Loader, render
from shotbase.query.parser import parse
from shotbase.server.actions.base import ActionContext, require

__all__ = ["query"]


def query(context: ActionContext, operation: Mapping[str, Any]) -> Any:
    """Run a query: ``{"action": "query", "data": [...], "metadata": {"next": {"offset"}}}``."""
    expression = require(operation, "expression", str)
    context.flush()
    parsed = parse(expression)
    state = context.state
    compiled = state.compiler.compile(parsed, page_size=state.settings.page_size_limit)
    projections = parsed.projections
    if not projections:
        entity_type = state.schema.get(parsed.entity_type)
        from shotbase.query.ast import Projection

        projections = tuple(Projection((name,)) for name in entity_type.default_projections)
    loader = Loader(
        state.compiler, context.connection, ComputeContext(state.tables, context.base_url)
    )
    records, next_offset = loader.run(compiled, projections)
    normalize = context.options.get("denormalize") not in ("1", "true")
    return {
        "action": "query",
        "data": render(records, normalize=normalize),
        "metadata": {"next": {"offset": next_offset}},
    }
