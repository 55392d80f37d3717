"""Small hand-written definition documents for schema tests."""

from __future__ import annotations

from typing import Any


def entry(type_id: str, properties: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """One type of a definition document, keyed by ``id``, with an ``id`` property."""
    return {
        "id": type_id,
        "type": "object",
        "properties": {"id": {"type": "string"}, **(properties or {})},
        "primary_key": ["id"],
        "required": [],
        "immutable": [],
        "default_projections": ["id"],
        **extra,
    }


def document(*entries: dict[str, Any]) -> dict[str, Any]:
    """A definition document holding ``entries``."""
    return {"types": list(entries)}
