"""The typed syntax tree of a query: plain frozen values, no parser types."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "And",
    "Comparison",
    "Expression",
    "Literal",
    "LiteralList",
    "Not",
    "Or",
    "OrderKey",
    "Path",
    "Projection",
    "Query",
    "Relational",
    "SubQuery",
    "Value",
]

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    """One literal value as written; ``quoted`` tells ``"None"`` from ``None``."""

    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class LiteralList:
    """A parenthesised list of literals, for ``in`` and ``not_in``."""

    items: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class SubQuery:
    """A parenthesised ``select`` used as a value list."""

    query: Query


Value = Literal | LiteralList | SubQuery


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path operator value``, e.g. ``status.name is "Done"``."""

    path: Path
    operator: str
    value: Value


@dataclass(frozen=True, slots=True)
class Relational:
    """``path has (...)`` or ``path any (...)``; ``criteria`` is None for ``any ()``."""

    path: Path
    relation: str
    criteria: Expression | None


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` hold."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one of ``items`` holds."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``item`` does not hold."""

    item: Expression


Expression = Comparison | Relational | And | Or | Not


@dataclass(frozen=True, slots=True)
class Projection:
    """A selected path, or an aggregate function of one (``count(id)``)."""

    path: Path
    function: str | None = None


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order by`` key."""

    path: Path
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """A whole query."""

    entity_type: str
    projections: tuple[Projection, ...] = ()
    where: Expression | None = None
    group_by: tuple[Path, ...] = ()
    order_by: tuple[OrderKey, ...] = ()
    offset: int | None = None
    limit: int | None = None
