"""A small, obviously correct evaluator of the query language over plain Python data.

The differential test (``test_query_differential.py``) builds queries as the tiny syntax tree
below, renders them to text for the server, and asks :func:`evaluate` what the answer should
be. The oracle knows nothing of SQL or of shotbase's compiler; it follows the documented
semantics (PROTOCOL.md section 5):

* A dotted path through a reference or a collection holds when SOME related element satisfies
  the rest of the comparison (``children.name is "a"``); each condition on a collection path is
  tested on its own.
* ``has (...)`` / ``any (...)`` hold when one related element satisfies ALL inner criteria;
  ``any ()`` holds when there is an element at all.
* ``like`` is SQL ``LIKE`` without case: ``%`` is any run of characters, ``_`` one character,
  and a backslash makes the next character literal (``\\%`` is a percent sign).
* String equality and ordering are case-sensitive and by code point.

Three-valued logic: the server runs on SQL, where a comparison with NULL is UNKNOWN rather than
false, and ``not UNKNOWN`` is still UNKNOWN. So ``not bid > 1`` does NOT select rows whose value
is NULL. The oracle therefore evaluates every criterion to ``True``, ``False`` or ``None``
(unknown) with Kleene's rules for ``and``/``or``/``not``, and a row is selected only when its
criteria are ``True``. ``is None`` / ``is_not None`` are never unknown. ``in`` follows SQL too:
``NULL in (...)`` is unknown, ``x in (..., NULL)`` without a match is unknown, and an empty list
never matches (so ``not_in ()`` holds even for NULL). A relation step is an existence test
(``EXISTS`` in SQL), which is always ``True`` or ``False``: the element must make the inner
criteria ``True``.

Computed values (``time_logged``, ``bid_time_logged_difference``) are derived from the
timelogs here, as the server derives them in SQL.

Attributes a row's type does not have (``description`` or ``status`` on a Project reached
through a ``Context`` query) make the criterion unknown: neither it nor its negation selects
the row, as documented in docs/query-language.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "And",
    "Compare",
    "Expression",
    "Lit",
    "Not",
    "Or",
    "Query",
    "Relate",
    "World",
    "evaluate",
    "render_expression",
    "render_query",
]

Truth = bool | None
Row = Mapping[str, Any]

# Which base types a concrete context type belongs to.
CONTEXT_BASES = {
    "Context": {"Project", "Sequence", "Shot", "Task"},
    "TypedContext": {"Sequence", "Shot", "Task"},
    "Sequence": {"Sequence"},
    "Shot": {"Shot"},
    "Task": {"Task"},
}


# Syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lit:
    """A literal: its Python value (as the server should coerce it) and how it is written."""

    value: Any
    text: str


@dataclass(frozen=True, slots=True)
class Compare:
    """``path operator value``; ``value`` is a tuple of literals for ``in``/``not_in``."""

    path: tuple[str, ...]
    operator: str
    value: Lit | tuple[Lit, ...]
    spelling: str = ""  # an operator synonym to write instead, e.g. "=" or "after"


@dataclass(frozen=True, slots=True)
class Relate:
    """``path has (...)`` or ``path any (...)``; ``criteria`` None means ``any ()``."""

    path: tuple[str, ...]
    relation: str
    criteria: Expression | None


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expression


Expression = Compare | Relate | And | Or | Not


@dataclass(frozen=True, slots=True)
class Query:
    """``select id from <entity_type> where <scope> and (<where>) order by ... offset/limit``."""

    entity_type: str
    scope: Expression
    where: Expression | None = None
    order_by: tuple[tuple[tuple[str, ...], bool], ...] = ()  # (path, descending)
    offset: int | None = None
    limit: int | None = None


# Rendering ---------------------------------------------------------------------------------


def render_expression(expression: Expression) -> str:
    """Query text for ``expression``; every compound operand is parenthesised."""
    if isinstance(expression, Compare):
        operator = expression.spelling or expression.operator
        if isinstance(expression.value, tuple):
            value = "(" + ", ".join(item.text for item in expression.value) + ")"
        else:
            value = expression.value.text
        return f"{'.'.join(expression.path)} {operator} {value}"
    if isinstance(expression, Relate):
        inner = "" if expression.criteria is None else render_expression(expression.criteria)
        return f"{'.'.join(expression.path)} {expression.relation} ({inner})"
    if isinstance(expression, Not):
        return f"not {_operand(expression.item)}"
    word = " and " if isinstance(expression, And) else " or "
    return word.join(_operand(item) for item in expression.items)


def _operand(expression: Expression) -> str:
    text = render_expression(expression)
    return text if isinstance(expression, Compare | Relate) else f"({text})"


def render_query(query: Query, *, offset: int | None = None, limit: int | None = None) -> str:
    """Query text; ``offset``/``limit`` override the query's own (for following pages)."""
    text = f"select id from {query.entity_type} where {_operand(query.scope)}"
    if query.where is not None:
        text += f" and {_operand(query.where)}"
    if query.order_by:
        keys = (f"{'.'.join(path)} {'desc' if desc else 'asc'}" for path, desc in query.order_by)
        text += " order by " + ", ".join(keys)
    offset = query.offset if offset is None else offset
    limit = query.limit if limit is None else limit
    if offset is not None:
        text += f" offset {offset}"
    if limit is not None:
        text += f" limit {limit}"
    return text


# Data --------------------------------------------------------------------------------------


@dataclass
class World:
    """What one example created, as plain dicts, plus the seeded statuses and states.

    Contexts carry ``__type__`` and only the attributes their type has: a Project has no
    ``bid``, ``description`` or ``status_id`` key at all.
    """

    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    timelogs: list[dict[str, Any]] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)

    def related(self, kind: str, row: Row, name: str) -> tuple[str, list[Row]]:
        """The kind of row ``name`` leads to from ``row``, and the rows it reaches."""
        relations: dict[tuple[str, str], Callable[[Row], tuple[str, list[Row]]]] = {
            ("context", "parent"): self._parent,
            ("context", "status"): self._status,
            ("context", "children"): self._children,
            ("context", "timelogs"): self._timelogs,
            ("context", "metadata"): self._metadata,
            ("context", "ancestors"): self._ancestors,
            ("context", "descendants"): self._descendants,
            ("status", "state"): self._state,
        }
        return relations[(kind, name)](row)

    def _parent(self, row: Row) -> tuple[str, list[Row]]:
        parent = row["parent_id"]
        return "context", [] if parent is None else [self.contexts[parent]]

    def _status(self, row: Row) -> tuple[str, list[Row]]:
        status = row.get("status_id")
        return "status", [] if status is None else [self.statuses[status]]

    def _state(self, row: Row) -> tuple[str, list[Row]]:
        return "state", [self.states[row["state_id"]]]

    def _children(self, row: Row) -> tuple[str, list[Row]]:
        return "context", [c for c in self.contexts.values() if c["parent_id"] == row["id"]]

    def _timelogs(self, row: Row) -> tuple[str, list[Row]]:
        return "timelog", [t for t in self.timelogs if t["context_id"] == row["id"]]

    def _metadata(self, row: Row) -> tuple[str, list[Row]]:
        return "metadata", [m for m in self.metadata if m["parent_id"] == row["id"]]

    def _ancestors(self, row: Row) -> tuple[str, list[Row]]:
        # The relation leads to TypedContext: the project at the top is not an ancestor.
        found = [above for above in self._above(row) if above["__type__"] != "Project"]
        return "context", found

    def _descendants(self, row: Row) -> tuple[str, list[Row]]:
        found: list[Row] = [
            other
            for other in self.contexts.values()
            if other["__type__"] != "Project" and any(above is row for above in self._above(other))
        ]
        return "context", found

    def _above(self, row: Row) -> list[Row]:
        """Every context above ``row``, nearest first, the project included."""
        found: list[Row] = []
        parent = row["parent_id"]
        while parent is not None:
            found.append(self.contexts[parent])
            parent = found[-1]["parent_id"]
        return found

    def rows_of(self, entity_type: str) -> list[Row]:
        """Every context whose type is ``entity_type`` or one of its subtypes."""
        members = CONTEXT_BASES[entity_type]
        return [c for c in self.contexts.values() if c["__type__"] in members]


# Evaluation --------------------------------------------------------------------------------

_ABSENT = object()


def evaluate(world: World, query: Query) -> list[str]:
    """Ids of the rows ``query`` selects, in the order the server must return them."""
    rows = [
        row
        for row in world.rows_of(query.entity_type)
        if holds(world, "context", row, query.scope) is True
        and (query.where is None or holds(world, "context", row, query.where) is True)
    ]
    # The server breaks remaining ties by primary key; stable sorts from the last key back.
    rows.sort(key=lambda row: str(row["id"]))
    for path, descending in reversed(query.order_by):
        rows.sort(key=functools.partial(_order_value, world, path=path), reverse=descending)
    ids = [row["id"] for row in rows]
    start = query.offset or 0
    end = None if query.limit is None else start + query.limit
    return ids[start:end]


def _order_value(world: World, row: Row, *, path: tuple[str, ...]) -> Any:
    kind = "context"
    for step in path[:-1]:
        kind, targets = world.related(kind, row, step)
        assert len(targets) == 1, f"order key {path} must reach exactly one row"
        row = targets[0]
    value = _value(world, kind, row, path[-1])
    assert value is not None, f"order key {path} must not be NULL (dialects sort NULL apart)"
    assert value is not _ABSENT, f"order key {path} must exist on every row"
    return value


def holds(world: World, kind: str, row: Row, expression: Expression) -> Truth:
    """Three-valued truth of ``expression`` for ``row`` of ``kind``."""
    if isinstance(expression, And):
        return _all(holds(world, kind, row, item) for item in expression.items)
    if isinstance(expression, Or):
        return _any(holds(world, kind, row, item) for item in expression.items)
    if isinstance(expression, Not):
        inner = holds(world, kind, row, expression.item)
        return None if inner is None else not inner
    if isinstance(expression, Relate):
        return _relate(world, kind, row, expression.path, expression.criteria)
    return _compare_path(world, kind, row, expression)


def _all(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _any(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


# Relations a Project does not have, though its base type Context's other members do.
PROJECT_LACKS = {"status", "ancestors"}


def _lacks(kind: str, row: Row, name: str) -> bool:
    return kind == "context" and row.get("__type__") == "Project" and name in PROJECT_LACKS


def _relate(
    world: World, kind: str, row: Row, path: Sequence[str], criteria: Expression | None
) -> Truth:
    if _lacks(kind, row, path[0]):
        return None
    target_kind, targets = world.related(kind, row, path[0])
    if len(path) > 1:
        return any(
            _relate(world, target_kind, target, path[1:], criteria) is True for target in targets
        )
    return any(
        criteria is None or holds(world, target_kind, target, criteria) is True
        for target in targets
    )


def _compare_path(world: World, kind: str, row: Row, expression: Compare) -> Truth:
    first, *rest = expression.path
    if rest:
        if _lacks(kind, row, first):
            return None
        target_kind, targets = world.related(kind, row, first)
        inner = Compare(tuple(rest), expression.operator, expression.value)
        return any(_compare_path(world, target_kind, t, inner) is True for t in targets)
    if first == "parent":
        # ``parent is None`` compares the reference itself.
        assert isinstance(expression.value, Lit) and expression.value.value is None
        is_null = row["parent_id"] is None
        return is_null if expression.operator == "is" else not is_null
    return compare(_value(world, kind, row, first), expression.operator, expression.value)


def _value(world: World, kind: str, row: Row, name: str) -> Any:
    """A row's attribute, computed ones included; _ABSENT where its type lacks it."""
    if kind == "context" and name in ("time_logged", "bid_time_logged_difference"):
        if row["__type__"] == "Project":
            return _ABSENT
        logged = sum(t["duration"] for t in world.timelogs if t["context_id"] == row["id"])
        return logged if name == "time_logged" else (row.get("bid") or 0.0) - logged
    return row.get(name, _ABSENT)


def compare(value: Any, operator: str, operand: Lit | tuple[Lit, ...]) -> Truth:
    """SQL's answer to ``value operator operand``: True, False or None (unknown)."""
    if value is _ABSENT:
        return None
    if operator in ("in", "not_in"):
        items = operand if isinstance(operand, tuple) else (operand,)
        found = _member(value, [item.value for item in items])
        if operator == "in" or found is None:
            return found
        return not found
    assert isinstance(operand, Lit)
    literal = operand.value
    if literal is None:
        assert operator in ("is", "is_not"), operator
        return (value is None) == (operator == "is")
    if value is None:
        return None
    if operator in ("like", "not_like"):
        matched = _like(str(value), str(literal))
        return matched if operator == "like" else not matched
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "is": lambda a, b: bool(a == b),
        "is_not": lambda a, b: bool(a != b),
        ">": lambda a, b: bool(a > b),
        "<": lambda a, b: bool(a < b),
        ">=": lambda a, b: bool(a >= b),
        "<=": lambda a, b: bool(a <= b),
    }
    return comparisons[operator](value, literal)


def _member(value: Any, items: Sequence[Any]) -> Truth:
    if not items:
        return False
    if value is None:
        return None
    if any(item is not None and item == value for item in items):
        return True
    return None if any(item is None for item in items) else False


def _like(value: str, pattern: str) -> bool:
    """SQL LIKE without case; a backslash makes the next character literal."""
    parts, chars = [], iter(pattern.lower())
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        else:
            parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.fullmatch("".join(parts), value.lower(), flags=re.DOTALL) is not None
