"""Query text the session builds: literals and primary-key conditions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shotbase.client.codec import encode_value
from shotbase.client.entity import Entity

__all__ = ["key_criteria", "literal"]


def literal(value: Any) -> str:
    """``value`` as a query literal (strings quoted, datetimes naive UTC to the second)."""
    if isinstance(value, Entity):
        value = value["id"]
    if isinstance(value, str):
        return f'"{value}"'
    if hasattr(value, "isoformat"):
        encoded = encode_value(value)["value"][:19]
        return f'"{encoded}"'
    return str(value)


def key_criteria(entities: Sequence[Entity]) -> str:
    """A condition matching exactly ``entities`` (all of one type) by primary key."""
    names = entities[0].primary_key_attributes
    if len(names) == 1:
        values = ", ".join(f'"{entity.identity[1][0]}"' for entity in entities)
        return f"{names[0]} in ({values})"
    clauses = []
    for entity in entities:
        parts = " and ".join(
            f'{n} is "{v}"' for n, v in zip(names, entity.identity[1], strict=True)
        )
        clauses.append(f"({parts})")
    return " or ".join(clauses)
