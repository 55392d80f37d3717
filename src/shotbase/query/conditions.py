"""Compile where-expressions into SQLAlchemy Core conditions, every value a bound parameter.

Attribute paths become correlated ``EXISTS`` subqueries: one per reference or collection step,
so ``status.state.short is "DONE"`` reads "there is a status, joined to this row, that has a
state, joined to it, whose short is DONE". That one form serves references, collections,
``has`` and ``any`` alike and lets the database use its key indexes. Two forms find their
matches first instead: a plain reference at the top of a ``where`` (``project.name is "X"``)
and a tree relation (``ancestors any (...)``).
"""

from __future__ import annotations

import operator as operators
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shotbase.errors import QueryError, UnknownAttributeError
from shotbase.query import ast
from shotbase.query.compiled import Prefetch
from shotbase.query.computed import thumbnail_id_column
from shotbase.query.custom_values import defaulted_values
from shotbase.query.joins import is_plain_reference
from shotbase.query.resolution import (
    RESTRICTED_RELATIONS,
    UNTYPED_FAMILIES,
    Condition,
    owner,
    related,
    resolve_attribute,
    resolve_relation,
    scalar_column,
    tree_closure,
    type_filter,
)
from shotbase.schema.model import Attribute, AttributeKind, DataType, EntityType
from shotbase.schema.relations import Relation
from shotbase.schema.values import coerce_literal
from shotbase.store.tables import TYPE_COLUMN, Tables

__all__ = ["ConditionCompiler"]

# Stand-ins that tell literal coercion how to read custom attribute value comparisons.
NUMBER_VALUE = Attribute("value", AttributeKind.SCALAR, DataType.NUMBER)
TEXT_VALUE = Attribute("value", AttributeKind.SCALAR, DataType.STRING)

COMPARISONS: dict[str, Any] = {
    "is": operators.eq,
    "is_not": operators.ne,
    ">": operators.gt,
    "<": operators.lt,
    ">=": operators.ge,
    "<=": operators.le,
}


class ConditionCompiler:
    """Compiles where-expressions against rows of one set of tables.

    One serves one compilation. With ``max_bound_matches``, the matches of a reference
    filter at the top of a ``where`` are read first: each one's select is collected in
    :attr:`prefetches` and the condition compares with the values bound under its key.
    """

    def __init__(self, tables: Tables, *, max_bound_matches: int | None = None) -> None:
        self.tables = tables
        self.schema = tables.schema
        self.max_bound_matches = max_bound_matches
        self.prefetches: list[Prefetch] = []

    def __repr__(self) -> str:
        return f"ConditionCompiler(max_bound_matches={self.max_bound_matches!r})"

    def condition(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        expression: ast.Expression,
        *,
        top: bool = False,
    ) -> Condition:
        """Compile a where-expression evaluated against rows of ``table``.

        ``top`` says that the expression is one of the conditions the whole ``where`` of its
        select joins with ``and``: not under ``or`` or ``not``, so a row for which it is
        unknown (NULL) is as unselected as one for which it is false.

        Raises:
            UnknownAttributeError, QueryError, ValidationError.
        """
        if isinstance(expression, ast.And):
            return sa.and_(
                *(self.condition(entity_type, table, e, top=top) for e in expression.items)
            )
        if isinstance(expression, ast.Or):
            return sa.or_(*(self.condition(entity_type, table, e) for e in expression.items))
        if isinstance(expression, ast.Not):
            return sa.not_(self.condition(entity_type, table, expression.item))
        top = top and expression.path[0] in entity_type.attributes
        if isinstance(expression, ast.Relational):
            compiled = self._relational(entity_type, table, expression, top=top)
        else:
            compiled = self._comparison(entity_type, table, expression, top=top)
        through = isinstance(expression, ast.Relational) or len(expression.path) > 1
        return self._only_where_defined(entity_type, table, expression.path[0], through, compiled)

    def _only_where_defined(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        name: str,
        through: bool,
        compiled: Condition,
    ) -> Condition:
        """Unknown (NULL) for rows whose type lacks the attribute, so neither it nor its
        negation matches them: ``Context where bid is None`` finds no Project. A Project's
        ``status`` is a plain value, not the reference ``status.name`` follows, so it lacks
        that one too."""
        if name in entity_type.attributes or entity_type.root.id in UNTYPED_FAMILIES:
            return compiled
        kind = owner(entity_type, name, relation=through or None).attributes[name].kind
        members = [
            t.id
            for t in entity_type.descendants()
            if name in t.attributes and t.attributes[name].kind is kind
        ]
        defined: Condition = table.c[TYPE_COLUMN].in_(members)
        unknown: Condition = sa.case((defined, compiled), else_=sa.null())
        return unknown

    def _relational(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        expression: ast.Relational,
        *,
        top: bool,
    ) -> Condition:
        *steps, last = expression.path
        attribute = (
            resolve_attribute(entity_type, last, relation=True, filtering=True)
            if not steps
            else None
        )
        if steps:
            inner = ast.Relational((last,), expression.relation, expression.criteria)
            return self._through(entity_type, table, steps, inner, top=top)
        assert attribute is not None
        if attribute.kind is AttributeKind.SCALAR:
            raise QueryError(
                f"{entity_type.id}.{last} is not a relation; "
                f"'{expression.relation}' needs a reference or a collection."
            )
        is_collection = attribute.kind is not AttributeKind.REFERENCE
        if expression.relation == "has" and is_collection:
            raise QueryError(f"{entity_type.id}.{last} is a collection: use 'any', not 'has'.")
        if expression.relation == "any" and not is_collection:
            raise QueryError(f"{entity_type.id}.{last} is a reference: use 'has', not 'any'.")
        return self._exists(entity_type, table, last, expression.criteria, top=top)

    def _comparison(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        expression: ast.Comparison,
        *,
        top: bool,
    ) -> Condition:
        first, *rest = expression.path
        attribute = resolve_attribute(
            entity_type, first, relation=bool(rest) or None, filtering=True
        )
        if rest:
            if attribute.kind is AttributeKind.SCALAR:
                raise UnknownAttributeError(entity_type.id, ".".join(expression.path))
            inner = ast.Comparison(tuple(rest), expression.operator, expression.value)
            return self._exists(entity_type, table, first, inner, top=top)
        if attribute.kind is not AttributeKind.SCALAR:
            return self._compare_relation(entity_type, table, attribute, expression)
        if attribute.data_type is DataType.VARIABLE and "value_text" in table.c:
            return self._compare_custom_value(table, expression)
        column = scalar_column(self.tables, entity_type, table, attribute)
        return self._compare(entity_type.id, attribute, column, expression)

    def _compare_custom_value(self, table: sa.FromClause, expression: ast.Comparison) -> Condition:
        """Compare a custom attribute value through its indexed text or number copy."""
        value = expression.value
        if isinstance(value, ast.Literal) and not value.quoted:
            lowered = value.text.lower()
            if lowered in ("true", "false"):
                value = ast.Literal(lowered, quoted=True)
            else:
                try:
                    float(value.text)
                except ValueError:
                    pass
                else:
                    return self._compare(
                        "CustomAttributeValue", NUMBER_VALUE, table.c.value_number, expression
                    )
        text = ast.Comparison(expression.path, expression.operator, value)
        return self._compare("CustomAttributeValue", TEXT_VALUE, table.c.value_text, text)

    def _compare_relation(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        attribute: Attribute,
        expression: ast.Comparison,
    ) -> Condition:
        """``parent is None`` / ``parent is_not None`` on a reference held by a column (or by
        a computed value, as a review session's ``thumbnail``)."""
        relation = resolve_relation(self.tables, owner(entity_type, attribute.name), attribute.name)
        is_null = isinstance(expression.value, ast.Literal) and not expression.value.quoted
        is_null = is_null and expression.value.text.lower() in ("none", "null")  # type: ignore[union-attr]
        held = bool(relation.pairs) or relation.derived == "thumbnail"
        if relation.is_collection or not held or not is_null:
            raise QueryError(
                f"{entity_type.id}.{attribute.name} is a relation; compare one of its "
                f"attributes instead, e.g. {attribute.name}.id."
            )
        holder = (
            table.c[relation.pairs[0][0]]
            if relation.pairs
            else thumbnail_id_column(self.tables, table)
        )
        if expression.operator == "is":
            return holder.is_(None)
        if expression.operator == "is_not":
            return holder.is_not(None)
        raise QueryError(f"{entity_type.id}.{attribute.name} can only be compared with None.")

    def _compare(
        self,
        type_id: str,
        attribute: Attribute,
        column: sa.ColumnElement[Any],
        expression: ast.Comparison,
    ) -> Condition:
        operator, value = expression.operator, expression.value
        if operator in ("in", "not_in"):
            if isinstance(value, ast.SubQuery):
                members: Any = self._subquery(value.query)
            elif isinstance(value, ast.LiteralList):
                members = [
                    coerce_literal(type_id, attribute, item.text, item.quoted)
                    for item in value.items
                ]
            else:
                members = [coerce_literal(type_id, attribute, value.text, value.quoted)]
            condition: Condition = column.in_(members)
            return sa.not_(condition) if operator == "not_in" else condition
        if not isinstance(value, ast.Literal):
            raise QueryError(f"'{operator}' compares with one value, not a list.")
        literal = coerce_literal(type_id, attribute, value.text, value.quoted)
        if operator in ("is", "is_not") and literal is None:
            return column.is_(None) if operator == "is" else column.is_not(None)
        if literal is None:
            raise QueryError(f"'{operator}' cannot compare with None.")
        if operator in ("like", "not_like"):
            text = str(literal)
            if (len(text) - len(text.rstrip("\\"))) % 2:
                raise QueryError(f"The pattern {text!r} ends with a lone escape character '\\'.")
            pattern = sa.func.lower(sa.cast(column, sa.Text))
            # Backslash escapes % and _ on every database, as ftrack's MySQL did.
            matched: Condition = pattern.like(text.lower(), escape="\\")
            return sa.not_(matched) if operator == "not_like" else matched
        if isinstance(literal, bool):
            # Bound like every other value: SQLAlchemy writes a bare True as SQL's ``true``
            # and refuses it with ``>`` and ``<``.
            literal = sa.literal(literal, sa.Boolean())
        compared: Condition = COMPARISONS[operator](column, literal)
        return compared

    def _subquery(self, query: ast.Query) -> sa.Select[Any]:
        if len(query.projections) != 1 or query.projections[0].function:
            raise QueryError("A sub-query must select exactly one attribute, e.g. 'select id'.")
        entity_type = self.schema.get(query.entity_type)
        table = self.tables.of(entity_type).alias()
        path = query.projections[0].path
        if len(path) != 1:
            raise QueryError("A sub-query must select a direct attribute, e.g. 'select id'.")
        attribute = resolve_attribute(entity_type, path[0])
        column = scalar_column(self.tables, entity_type, table, attribute)
        statement = sa.select(column).where(*type_filter(entity_type, table))
        if query.where is not None:
            statement = statement.where(self.condition(entity_type, table, query.where, top=True))
        if query.limit is not None or query.offset:
            order = [table.c[name] for name in entity_type.primary_key]
            statement = statement.order_by(*order).limit(query.limit).offset(query.offset)
        return statement

    def _through(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        steps: Sequence[str],
        inner: ast.Relational,
        *,
        top: bool,
    ) -> Condition:
        first, *rest = steps
        attribute = resolve_attribute(entity_type, first, relation=True, filtering=True)
        if attribute.kind is AttributeKind.SCALAR:
            raise UnknownAttributeError(entity_type.id, ".".join((*steps, "...")))
        if rest:
            nested: ast.Expression = ast.Relational(
                (*rest, *inner.path),
                inner.relation,
                inner.criteria,
            )
        else:
            nested = inner
        return self._exists(entity_type, table, first, nested, top=top)

    def _exists(
        self,
        entity_type: EntityType,
        table: sa.FromClause,
        name: str,
        criteria: ast.Expression | None,
        *,
        top: bool = False,
    ) -> Condition:
        """There is a row related to ``table`` by ``name`` that meets ``criteria``."""
        owner_type = owner(entity_type, name, relation=True)
        relation = resolve_relation(self.tables, owner_type, name)
        target_type = self.schema.get(relation.target)
        target = self.tables.of(target_type).alias()
        if relation.tree:
            return self._in_tree(relation.tree, table, target_type, target, criteria)
        if top and is_plain_reference(relation, target_type):
            return self._in_matches(relation, table, target_type, target, criteria)
        statement = related(self.tables, relation, table, target)
        if name not in RESTRICTED_RELATIONS:
            statement = statement.where(*type_filter(target_type, target))
        if criteria is not None:
            statement = statement.where(self.condition(target_type, target, criteria, top=True))
        if name == "custom_attributes" and target_type.root.id == "CustomAttributeValue":
            defaulted = defaulted_values(self, owner_type, table, target_type, criteria)
            return sa.or_(statement.exists(), defaulted)
        return statement.exists()

    def _in_matches(
        self,
        relation: Relation,
        owner_table: sa.FromClause,
        target_type: EntityType,
        target: sa.FromClause,
        criteria: ast.Expression | None,
    ) -> Condition:
        """``status.state.short is "DONE"`` as "the status is one of the matching statuses".

        Only for conditions at the top of a ``where`` (a NULL reference then reads as no
        match, as with ``EXISTS``). The matches are usually few (a project, some statuses)
        and are found first: bound as values when matches are bound (see
        :class:`ConditionCompiler`), else in a sub-query. ``OFFSET 0`` keeps them a sub-query
        of their own: PostgreSQL would otherwise join the key directly and estimate the join
        as if any row of the target's table could match (the context table holds every
        project, sequence, shot and task, so one project looked like one task in 100,000),
        and then plan for a handful of rows where there are thousands.
        """
        local, remote = relation.pairs[0]
        matches = sa.select(target.c[remote]).where(*type_filter(target_type, target))
        if criteria is not None:
            matches = matches.where(self.condition(target_type, target, criteria, top=True))
        most = self.max_bound_matches
        if most is not None:
            key = f"_matches_{len(self.prefetches)}"
            statement = matches.distinct().limit(most + 1)
            compared = owner_table.c[local]
            base = next(iter(compared.base_columns))  # through an alias, to its table
            self.prefetches.append(Prefetch(key, statement, most, (base.table.name, base.name)))
            bound = sa.bindparam(key, expanding=True, type_=compared.type)
            return compared.in_(bound)
        inside: Condition = owner_table.c[local].in_(matches.offset(0))
        return inside

    def _in_tree(
        self,
        direction: str,
        owner_table: sa.FromClause,
        target_type: EntityType,
        target: sa.FromClause,
        criteria: ast.Expression | None,
    ) -> Condition:
        """``ancestors any (...)`` as "the row is among the descendants of the matches".

        The matching contexts are few and found first; the tree index then lists the rows
        below (or above) them, so the database never probes the tree once per row.
        """
        closure, near, far = tree_closure(self.tables, direction)
        matches = (
            sa.select(near)
            .select_from(closure.join(target, far == target.c.id))
            .where(*type_filter(target_type, target))
        )
        if criteria is not None:
            matches = matches.where(self.condition(target_type, target, criteria, top=True))
        inside: Condition = owner_table.c.id.in_(matches)
        return inside
