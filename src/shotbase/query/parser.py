"""Parse query text into the typed syntax tree of :mod:`shotbase.query.ast`."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import lark

from shotbase.errors import QueryError, QuerySyntaxError
from shotbase.query import ast

__all__ = ["MAX_NESTING", "parse"]

# Deeper trees are refused before they reach recursive code (the AST builder, the compiler).
MAX_NESTING = 200
MAX_PAGE_NUMBER = 2**31 - 1

# Human names for terminals in "expected ..." messages.
TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a whole number",
    "STRING": "a quoted string",
    "VALUE": "a value",
    "OPERATOR": "an operator",
    "RELATION": "'has' or 'any'",
    "DIRECTION": "'asc' or 'desc'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "$END": "end of query",
}


@functools.cache
def _parser() -> lark.Lark:
    grammar = resources.files("shotbase.query").joinpath("grammar.lark").read_text()
    return lark.Lark(grammar, parser="lalr", maybe_placeholders=False, cache=False)


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> ast.Query:
    """Parse one query.

    Args:
        text: Query text such as ``select name from Shot where parent.name is "sq010"``.
    Returns:
        The query's syntax tree.
    Raises:
        QuerySyntaxError: If the text is not a query; the error names the position and what
            was expected there.
    """
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    depth = _nesting(tree)
    if depth > MAX_NESTING:
        raise QueryError(f"The query nests {depth} levels deep; at most {MAX_NESTING} are allowed.")
    try:
        query = _ToAst().transform(tree)
    except lark.exceptions.VisitError as exc:
        raise QueryError(str(exc.orig_exc)) from None
    assert isinstance(query, ast.Query)
    return query


def _nesting(tree: lark.Tree[lark.Token]) -> int:
    """How deep the tree goes, measured without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, lark.Tree))
    return deepest


def _syntax_error(exc: lark.exceptions.UnexpectedInput, text: str) -> QuerySyntaxError:
    expected: set[str] = set()
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        expected = set(exc.accepts or exc.expected)
    elif isinstance(exc, lark.exceptions.UnexpectedCharacters):
        expected = set(exc.allowed or ())
    names = sorted({_terminal_name(name) for name in expected})
    if not names:
        described = "a valid query"
    elif len(names) == 1:
        described = names[0]
    else:
        described = ", ".join(names[:-1]) + " or " + names[-1]
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    at_end = isinstance(exc, lark.exceptions.UnexpectedEOF) or (
        isinstance(exc, lark.exceptions.UnexpectedToken) and exc.token.type == "$END"
    )
    if at_end or line < 1:
        # Lark counts lines by "\n" only; so do we.
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
    return QuerySyntaxError(described, text, line, column)


def _terminal_name(name: str) -> str:
    if name in TERMINAL_NAMES:
        return TERMINAL_NAMES[name]
    return f"'{name.lower()}'"


class _ToAst(lark.Transformer[lark.Token, Any]):
    """Turn Lark's tree into :mod:`ast` values; Lark types stop here."""

    def start(self, children: list[Any]) -> ast.Query:
        return children[0]  # type: ignore[no-any-return]

    def bare_query(self, children: list[Any]) -> ast.Query:
        return self.select_query(children)

    def select_query(self, children: list[Any]) -> ast.Query:
        fields: dict[str, Any] = {}
        tokens = [c for c in children if isinstance(c, lark.Token)]
        projections = next((c for c in children if isinstance(c, list)), [])
        names = [t for t in tokens if t.type == "NAME"]
        fields["entity_type"] = str(names[0])
        fields["projections"] = tuple(projections)
        for child in children:
            if isinstance(child, tuple) and child and child[0] in _CLAUSES:
                key, value = child
                if key in fields:
                    raise QueryError(f"'{key.replace('_', ' ')}' is given twice.")
                fields[key] = value
            elif _is_expression(child):
                fields["where"] = child
        return ast.Query(**fields)

    def projections(self, children: list[ast.Projection]) -> list[ast.Projection]:
        return list(children)

    def projection(self, children: list[ast.Path]) -> ast.Projection:
        return ast.Projection(children[0])

    def aggregate(self, children: list[Any]) -> ast.Projection:
        return ast.Projection(children[1], function=str(children[0]).lower())

    def path(self, children: list[lark.Token]) -> ast.Path:
        return tuple(str(token) for token in children)

    def group_by(self, children: list[Any]) -> tuple[str, tuple[ast.Path, ...]]:
        return "group_by", tuple(c for c in children if isinstance(c, tuple))

    def order_by(self, children: list[Any]) -> tuple[str, tuple[ast.OrderKey, ...]]:
        return "order_by", tuple(c for c in children if isinstance(c, ast.OrderKey))

    def order_key(self, children: list[Any]) -> ast.OrderKey:
        descending = len(children) > 1 and str(children[1]).lower() == "desc"
        return ast.OrderKey(children[0], descending)

    def offset(self, children: list[lark.Token]) -> tuple[str, int]:
        return "offset", _page_number("offset", children[1])

    def limit(self, children: list[lark.Token]) -> tuple[str, int]:
        return "limit", _page_number("limit", children[1])

    def disjunction(self, children: list[Any]) -> ast.Or:
        return ast.Or(tuple(c for c in children if _is_expression(c)))

    def conjunction(self, children: list[Any]) -> ast.And:
        return ast.And(tuple(c for c in children if _is_expression(c)))

    def negate(self, children: list[Any]) -> ast.Not:
        return ast.Not(children[1])

    def relational(self, children: list[Any]) -> ast.Relational:
        criteria = children[2] if len(children) > 2 else None
        return ast.Relational(children[0], str(children[1]).lower(), criteria)

    def comparison(self, children: list[Any]) -> ast.Comparison:
        return ast.Comparison(children[0], _OPERATORS[str(children[1]).lower()], children[2])

    def quoted(self, children: list[lark.Token]) -> ast.Literal:
        return ast.Literal(_unescape(str(children[0])[1:-1]), quoted=True)

    def bare(self, children: list[lark.Token]) -> ast.Literal:
        return ast.Literal(str(children[0]), quoted=False)

    def value_list(self, children: list[ast.Literal]) -> ast.LiteralList:
        return ast.LiteralList(tuple(children))

    def subquery(self, children: list[ast.Query]) -> ast.SubQuery:
        return ast.SubQuery(children[0])


_CLAUSES = ("group_by", "order_by", "offset", "limit")

# Synonyms collapse to one spelling so that the compiler handles each operator once.
_OPERATORS = {
    "is": "is",
    "=": "is",
    "is_not": "is_not",
    "!=": "is_not",
    ">": ">",
    "after": ">",
    "greater_than": ">",
    "<": "<",
    "before": "<",
    "less_than": "<",
    ">=": ">=",
    "<=": "<=",
    "in": "in",
    "not_in": "not_in",
    "like": "like",
    "not_like": "not_like",
}


def _page_number(clause: str, token: lark.Token) -> int:
    number = int(token)
    if number > MAX_PAGE_NUMBER:
        raise QueryError(f"'{clause}' must be at most {MAX_PAGE_NUMBER}, got {number}.")
    return number


def _is_expression(value: object) -> bool:
    return isinstance(value, ast.Comparison | ast.Relational | ast.And | ast.Or | ast.Not)


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        out.append(next(chars, "\\") if char == "\\" else char)
    return "".join(out)
