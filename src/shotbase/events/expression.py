"""The subscription and target expression language of the official client (PROTOCOL 7.7).

``topic=ftrack.update and (data.type=message or not source.user.username="bot")``: conditions
``field op value`` joined by ``and``/``or``/``not`` and parentheses. An expression is parsed
once into a tree of small values and then evaluated against many candidates (an event for a
subscription, subscriber metadata for a target). Evaluation follows the official client:

* a dotted field is looked up step by step; a missing key fails the condition, even for ``!=``;
* values are strings; ``=`` with a value ending in ``*`` tests that the candidate contains the
  text before the ``*`` (the official client's rule, a superset of a prefix match);
* a comparison that cannot be made (a number against a string) fails instead of raising.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import lark

__all__ = ["All", "Any_", "Condition", "Expression", "Not", "parse_expression"]

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: "(" or_expr ")"
     | condition
condition: FIELD OPERATOR (VALUE | QUOTED)

_OR.2: /or(?![A-Za-z0-9_.])/i
_AND.2: /and(?![A-Za-z0-9_.])/i
_NOT.2: /not(?![A-Za-z0-9_.])/i
FIELD: /[A-Za-z0-9_.]+/
OPERATOR: "!=" | ">=" | "<=" | "=" | ">" | "<"
VALUE: /[A-Za-z0-9\-_,.\/*@+]+/
QUOTED: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/

%import common.WS
%ignore WS
"""

WILDCARD = "*"

OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


class Expression(Protocol):
    """A parsed expression: tells whether a candidate satisfies it."""

    def match(self, candidate: Mapping[str, Any]) -> bool:
        """Whether ``candidate`` satisfies the expression."""
        ...


@dataclass(frozen=True, slots=True)
class Condition:
    """``field op value``: one comparison against a dotted path of the candidate."""

    path: tuple[str, ...]
    operator: str
    value: str

    def match(self, candidate: Mapping[str, Any]) -> bool:
        """Whether the candidate's value at ``path`` compares true with ``value``."""
        found: Any = candidate
        try:
            for step in self.path:
                found = found[step]
        except (KeyError, TypeError, IndexError):
            return False
        try:
            if self.operator == "=" and self.value.endswith(WILDCARD):
                return isinstance(found, str) and self.value[:-1] in found
            return bool(OPERATORS[self.operator](found, self.value))
        except TypeError:
            return False


@dataclass(frozen=True, slots=True)
class All:
    """Every part matches (``and``)."""

    parts: tuple[Expression, ...]

    def match(self, candidate: Mapping[str, Any]) -> bool:
        """Whether all parts match."""
        return all(part.match(candidate) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Any_:
    """At least one part matches (``or``)."""

    parts: tuple[Expression, ...]

    def match(self, candidate: Mapping[str, Any]) -> bool:
        """Whether any part matches."""
        return any(part.match(candidate) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Not:
    """The inner expression does not match."""

    inner: Expression

    def match(self, candidate: Mapping[str, Any]) -> bool:
        """Whether the inner expression fails."""
        return not self.inner.match(candidate)


@dataclass(frozen=True, slots=True)
class Everything:
    """The empty expression: matches every candidate (an empty target)."""

    def match(self, candidate: Mapping[str, Any]) -> bool:
        """Always true."""
        return True


class _Build(lark.Transformer[lark.Token, Expression]):
    """Turn the parse tree into expression values; Lark types stay in this module."""

    def condition(self, children: list[lark.Token]) -> Expression:
        field, op, value = children
        text = str(value)
        if value.type == "QUOTED":
            text = text[1:-1]
        return Condition(tuple(str(field).split(".")), str(op), text)

    def and_expr(self, children: list[Expression]) -> Expression:
        return All(tuple(children))

    def or_expr(self, children: list[Expression]) -> Expression:
        return Any_(tuple(children))

    def negation(self, children: list[Expression]) -> Expression:
        return Not(children[0])


@functools.cache
def _parser() -> lark.Lark:
    return lark.Lark(GRAMMAR, parser="lalr", lexer="contextual")


@functools.lru_cache(maxsize=1024)
def parse_expression(text: str) -> Expression:
    """Parse an expression; an empty or blank one matches everything.

    Args:
        text: The expression, e.g. ``topic=ftrack.update and data.type=message``.
    Returns:
        The parsed expression; call ``match(candidate)`` on it.
    Raises:
        ValueError: If the text is not a valid expression; the message shows where.
    """
    if not isinstance(text, str):
        raise ValueError(f"an expression must be a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        return Everything()
    try:
        tree = _parser().parse(stripped)
    except lark.exceptions.UnexpectedInput as exc:
        raise ValueError(
            f"cannot parse expression {text!r} at column {exc.column}: "
            f"expected a condition like topic=ftrack.update, 'and', 'or', 'not' or parentheses"
        ) from None
    return _Build().transform(tree)
