"""Compile a query's syntax tree into SQLAlchemy Core, every value a bound parameter.

Attribute paths become correlated ``EXISTS`` subqueries: one per reference or collection step,
so ``status.state.short is "DONE"`` reads "there is a status, joined to this row, that has a
state, joined to it, whose short is DONE". That one form serves references, collections,
``has`` and ``any`` alike and lets the database use its key indexes.
"""

from __future__ import annotations

import contextvars
import dataclasses
import operator as operators
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from shotbase.errors import QueryError, UnknownAttributeError
from shotbase.query import ast
from shotbase.query.columns import needed_columns
from shotbase.query.computed import COMPUTED_ATTRIBUTES, COMPUTED_COLUMNS, thumbnail_id_column
from shotbase.query.custom_values import defaulted_values
from shotbase.query.joins import JoinedReference, JoinTree, is_plain_reference, join_references
from shotbase.schema.model import Attribute, AttributeKind, DataType, EntityType
from shotbase.schema.relations import Relation
from shotbase.schema.values import coerce_literal
from shotbase.store.tables import TYPE_COLUMN, Tables

__all__ = ["MAX_BOUND_MATCHES", "CompiledQuery", "Prefetch", "QueryCompiler"]

Condition = ColumnElement[bool]

# Stand-ins that tell literal coercion how to read custom attribute value comparisons.
NUMBER_VALUE = Attribute("value", AttributeKind.SCALAR, DataType.NUMBER)
TEXT_VALUE = Attribute("value", AttributeKind.SCALAR, DataType.STRING)

# Relations that only filters may use, and the column of the link that names the owner:
# ``custom_attribute_links`` are the links from an entity, ``..._from`` the links to it.
RESTRICTED_RELATIONS = {"custom_attribute_links": "from_id", "custom_attribute_links_from": "to_id"}
# Families whose rows are of whichever subtype their ends make them: a link's ``user`` is the
# user its ``to_id`` names, whatever type the link was created as.
UNTYPED_FAMILIES = {"CustomAttributeLink"}

COMPARISONS: dict[str, Any] = {
    "is": operators.eq,
    "is_not": operators.ne,
    ">": operators.gt,
    "<": operators.lt,
    ">=": operators.ge,
    "<=": operators.le,
}

AGGREGATES: dict[str, Any] = {
    "count": sa.func.count,
    "sum": sa.func.sum,
    "avg": sa.func.avg,
    "min": sa.func.min,
    "max": sa.func.max,
}


# A reference filter's matches are bound into the root select as values when there are at
# most this many; with more, the database finds them itself in a sub-query.
MAX_BOUND_MATCHES = 1000


@dataclass(frozen=True, slots=True)
class Prefetch:
    """The matches of one reference filter (``project.full_name is "X"``), read before the
    root select and bound into it under ``key``."""

    key: str
    statement: sa.Select[Any]  # limited to one row more than ``most``
    most: int


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A root select plus what the loader needs to finish the answer."""

    entity_type: EntityType
    table: sa.FromClause
    statement: sa.Select[Any]
    offset: int
    limit: int | None
    joined: tuple[JoinedReference, ...] = ()
    prefetch: tuple[Prefetch, ...] = ()


# The prefetches of the query being compiled in this thread, when it binds its matches.
_PREFETCHES: contextvars.ContextVar[list[Prefetch] | None] = contextvars.ContextVar(
    "shotbase_prefetches", default=None
)


class QueryCompiler:
    """Turns :class:`ast.Query` values into SQL for one set of tables."""

    def __init__(self, tables: Tables, *, cache_size: int = 1024) -> None:
        self.tables = tables
        self.schema = tables.schema
        # Compiled statements by query: a statement is immutable and carries its own values,
        # so a query asked again (a poll, a page re-read) skips building SQL altogether.
        self._cache: OrderedDict[tuple[ast.Query, int | None, bool], CompiledQuery] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._columns: dict[tuple[str, tuple[str, ...]], list[sa.Column[Any]]] = {}
        # Statements the loader builds once and runs with new values (keys to fetch).
        self.statements: dict[tuple[Any, ...], Any] = {}

    def __repr__(self) -> str:
        return f"QueryCompiler({self.tables!r})"

    def columns(self, entity_type: EntityType, names: tuple[str, ...]) -> list[sa.Column[Any]]:
        """The columns to read from ``entity_type``'s table to load the attributes ``names``."""
        key = (entity_type.id, names)
        columns = self._columns.get(key)
        if columns is None:
            columns = needed_columns(self.tables, entity_type, names)
            self._columns[key] = columns
        return columns

    def compile(
        self, query: ast.Query, *, page_size: int | None = None, bind_matches: bool = False
    ) -> CompiledQuery:
        """Compile the root select of ``query``: keys and type of each matching row, in order.

        With ``bind_matches``, reference filters at the top of the ``where`` compare with
        values read first (:meth:`read_matches`) instead of a sub-query: the database then
        plans for the actual project or status. Otherwise a project with no tasks looks like
        any other, and a page of its tasks walks every task in the table in key order
        looking for the first one.

        Raises:
            UnknownEntityTypeError, UnknownAttributeError, QueryError, ValidationError.
        """
        key = (query, page_size, bind_matches)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        prefetches: list[Prefetch] | None = [] if bind_matches else None
        token = _PREFETCHES.set(prefetches)
        try:
            compiled = self._compile(query, page_size)
        finally:
            _PREFETCHES.reset(token)
        if prefetches:
            compiled = dataclasses.replace(compiled, prefetch=tuple(prefetches))
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return compiled

    def _compile(self, query: ast.Query, page_size: int | None) -> CompiledQuery:
        entity_type = self.schema.get(query.entity_type)
        table = self.tables.of(entity_type)
        names = tuple(dict.fromkeys(projection.path[0] for projection in query.projections))
        columns: list[sa.ColumnElement[Any]] = [
            *(self.columns(entity_type, names) if names else table.c)
        ]
        tree = JoinTree(self.tables, table, self.type_filter)
        order = []
        for key in query.order_by:
            column = self._order_by(entity_type, table, key.path, tree)
            order.append(column.desc() if key.descending else column.asc())
        added, joined = join_references(
            tree, entity_type, table, query.projections, columns=self.columns
        )
        statement = sa.select(*columns, *added).select_from(tree.source)
        statement = statement.where(*self.type_filter(entity_type, table))
        if query.where is not None:
            statement = statement.where(self.condition(entity_type, table, query.where, top=True))
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

    def read_matches(
        self, compiled: CompiledQuery, connection: sa.Connection
    ) -> dict[str, list[Any]] | None:
        """The values to run ``compiled.statement`` with: each prefetch's matches, in order
        (a later one may use an earlier one's). None when one has more than its ``most``
        (:data:`MAX_BOUND_MATCHES`): compile without ``bind_matches`` then."""
        values: dict[str, list[Any]] = {}
        for prefetch in compiled.prefetch:
            found = list(connection.execute(prefetch.statement, values).scalars())
            if len(found) > prefetch.most:
                return None
            values[prefetch.key] = found
        return values

    def continue_after(self, compiled: CompiledQuery, last_key: Any, offset: int) -> CompiledQuery:
        """``compiled`` (ordered by its single primary key alone, with no offset) resumed after
        the row whose key is ``last_key``: the page at ``offset`` without reading the rows
        before it."""
        (name,) = compiled.entity_type.primary_key
        column = compiled.table.c[name]
        statement = compiled.statement.where(column > last_key)
        return dataclasses.replace(compiled, statement=statement, offset=offset)

    def compile_aggregate(self, query: ast.Query) -> tuple[sa.Select[Any], list[str]]:
        """Compile ``select count(id), status_id from Task group by status_id``.

        Returns the statement and the result keys: ``<function>_<attribute>`` for aggregates,
        the attribute name for grouped values.

        Raises:
            QueryError: If a selected value is neither aggregated nor grouped.
        """
        entity_type = self.schema.get(query.entity_type)
        table = self.tables.of(entity_type)
        grouped = []
        for path in query.group_by:
            grouped.append(self._aggregate_column(entity_type, table, path))
        columns, keys = [], []
        for projection in query.projections:
            column = self._aggregate_column(entity_type, table, projection.path)
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
        statement = sa.select(*columns).where(*self.type_filter(entity_type, table))
        if query.where is not None:
            statement = statement.where(self.condition(entity_type, table, query.where, top=True))
        if grouped:
            statement = statement.group_by(*grouped).order_by(*grouped)
        if query.offset:
            statement = statement.offset(query.offset)
        if query.limit is not None:
            statement = statement.limit(query.limit)
        return statement, keys

    def _aggregate_column(
        self, entity_type: EntityType, table: sa.FromClause, path: Sequence[str]
    ) -> sa.ColumnElement[Any]:
        if len(path) != 1:
            raise QueryError(
                f"Aggregates and 'group by' take direct attributes, not {'.'.join(path)!r}."
            )
        return self._scalar_column(
            entity_type, table, self._resolve_attribute(entity_type, path[0])
        )

    def type_filter(self, entity_type: EntityType, table: sa.FromClause) -> list[Condition]:
        """Rows of ``entity_type`` and its subtypes only, when its table holds other types."""
        family = list(entity_type.root.descendants())
        if len(family) == 1:
            return []
        members = [member.id for member in entity_type.descendants()]
        if len(members) == len(family):
            return []
        if len(members) == 1:
            return [table.c[TYPE_COLUMN] == members[0]]
        return [table.c[TYPE_COLUMN].in_(members)]

    # Conditions ----------------------------------------------------------------------------

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
        kind = self.owner(entity_type, name, relation=through or None).attributes[name].kind
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
            self._resolve_attribute(entity_type, last, relation=True, filtering=True)
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
        attribute = self._resolve_attribute(
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
        column = self._scalar_column(entity_type, table, attribute)
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
        relation = self._relation(self.owner(entity_type, attribute.name), attribute.name)
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
        attribute = self._resolve_attribute(entity_type, path[0])
        column = self._scalar_column(entity_type, table, attribute)
        statement = sa.select(column).where(*self.type_filter(entity_type, table))
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
        attribute = self._resolve_attribute(entity_type, first, relation=True, filtering=True)
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
        relation = self._relation(self.owner(entity_type, name, relation=True), name)
        target_type = self.schema.get(relation.target)
        target = self.tables.of(target_type).alias()
        if relation.tree:
            return self._in_tree(relation.tree, table, target_type, target, criteria)
        if top and is_plain_reference(relation, target_type):
            return self._in_matches(relation, table, target_type, target, criteria)
        statement = self.related(relation, table, target)
        if name not in RESTRICTED_RELATIONS:
            statement = statement.where(*self.type_filter(target_type, target))
        if criteria is not None:
            statement = statement.where(self.condition(target_type, target, criteria, top=True))
        if name == "custom_attributes" and target_type.root.id == "CustomAttributeValue":
            owner_type = self.owner(entity_type, name, relation=True)
            defaulted = defaulted_values(self, owner_type, table, target_type, criteria)
            return sa.or_(statement.exists(), defaulted)
        return statement.exists()

    def _in_matches(
        self,
        relation: Relation,
        owner: sa.FromClause,
        target_type: EntityType,
        target: sa.FromClause,
        criteria: ast.Expression | None,
    ) -> Condition:
        """``status.state.short is "DONE"`` as "the status is one of the matching statuses".

        Only for conditions at the top of a ``where`` (a NULL reference then reads as no
        match, as with ``EXISTS``). The matches are usually few (a project, some statuses)
        and are found first. ``OFFSET 0`` keeps them a sub-query of their own: PostgreSQL
        would otherwise join the key directly and estimate the join as if any row of the
        target's table could match (the context table holds every project, sequence, shot and
        task, so one project looked like one task in 100,000), and then plan for a handful of
        rows where there are thousands.
        """
        local, remote = relation.pairs[0]
        matches = sa.select(target.c[remote]).where(*self.type_filter(target_type, target))
        if criteria is not None:
            matches = matches.where(self.condition(target_type, target, criteria, top=True))
        prefetches = _PREFETCHES.get()
        if prefetches is not None:
            key = f"_matches_{len(prefetches)}"
            statement = matches.distinct().limit(MAX_BOUND_MATCHES + 1)
            prefetches.append(Prefetch(key, statement, MAX_BOUND_MATCHES))
            bound = sa.bindparam(key, expanding=True, type_=owner.c[local].type)
            return owner.c[local].in_(bound)
        inside: Condition = owner.c[local].in_(matches.offset(0))
        return inside

    def _in_tree(
        self,
        direction: str,
        owner: sa.FromClause,
        target_type: EntityType,
        target: sa.FromClause,
        criteria: ast.Expression | None,
    ) -> Condition:
        """``ancestors any (...)`` as "the row is among the descendants of the matches".

        The matching contexts are few and found first; the tree index then lists the rows
        below (or above) them, so the database never probes the tree once per row.
        """
        closure = self.tables.closure.alias()
        near, far = (
            (closure.c.descendant_id, closure.c.ancestor_id)
            if direction == "ancestors"
            else (closure.c.ancestor_id, closure.c.descendant_id)
        )
        matches = (
            sa.select(near)
            .select_from(closure.join(target, far == target.c.id))
            .where(*self.type_filter(target_type, target))
        )
        if criteria is not None:
            matches = matches.where(self.condition(target_type, target, criteria, top=True))
        inside: Condition = owner.c.id.in_(matches)
        return inside

    def related(
        self, relation: Relation, owner: sa.FromClause, target: sa.FromClause
    ) -> sa.Select[Any]:
        """``select 1 from target`` joined to the owner row by ``relation``."""
        if relation.tree:
            closure = self.tables.closure.alias()
            near, far = (
                (closure.c.descendant_id, closure.c.ancestor_id)
                if relation.tree == "ancestors"
                else (closure.c.ancestor_id, closure.c.descendant_id)
            )
            return (
                sa.select(sa.literal(1))
                .select_from(closure.join(target, far == target.c.id))
                .where(near == owner.c.id)
            )
        if relation.derived == "latest_version":
            newer = self.tables.families["AssetVersion"].alias()
            is_newer = sa.and_(
                newer.c.asset_id == target.c.asset_id, newer.c.version > target.c.version
            )
            return (
                sa.select(sa.literal(1))
                .select_from(target)
                .where(target.c.asset_id == owner.c.id, ~sa.exists().where(is_newer))
            )
        if relation.derived == "thumbnail":
            return (
                sa.select(sa.literal(1))
                .select_from(target)
                .where(target.c.id == thumbnail_id_column(self.tables, owner))
            )
        if relation.derived:
            raise QueryError(
                f"{relation.owner}.{relation.name} is computed and cannot be filtered on yet."
            )
        if relation.link_table:
            link = self.tables.links[relation.link_table].alias()
            return (
                sa.select(sa.literal(1))
                .select_from(link.join(target, link.c.target_id == target.c.id))
                .where(link.c.owner_id == owner.c.id)
            )
        if relation.through:
            link_type = self.schema.get(relation.through)
            link = self.tables.of(link_type).alias()
            onward = sa.and_(*(link.c[a] == target.c[b] for a, b in relation.onward))
            return (
                sa.select(sa.literal(1))
                .select_from(link.join(target, onward))
                .where(*(owner.c[a] == link.c[b] for a, b in relation.pairs))
            )
        statement = sa.select(sa.literal(1)).select_from(target)
        statement = statement.where(*(owner.c[a] == target.c[b] for a, b in relation.pairs))
        return statement.where(*(target.c[k] == v for k, v in relation.where.items()))

    # Columns -------------------------------------------------------------------------------

    def _order_by(
        self, entity_type: EntityType, table: sa.FromClause, path: Sequence[str], tree: JoinTree
    ) -> sa.ColumnElement[Any]:
        """The column to order by, on rows ``tree`` joins in.

        ``order by parent.parent.name`` left-joins the parent and its parent, as a hand-written
        query would; a step that is not a plain reference falls back to a sub-query.
        """
        first, *rest = path
        if not rest or first not in entity_type.attributes:
            return self.order_column(entity_type, table, path)
        attribute = self._resolve_attribute(entity_type, first, relation=True)
        if attribute.kind is not AttributeKind.REFERENCE:
            return self.order_column(entity_type, table, path)
        relation = self.tables.relation(entity_type, first)
        target_type = self.schema.get(relation.target)
        if not is_plain_reference(relation, target_type):
            return self.order_column(entity_type, table, path)
        target = tree.target(table, relation, target_type)
        return self._order_by(target_type, target, rest, tree)

    def order_column(
        self, entity_type: EntityType, table: sa.FromClause, path: Sequence[str]
    ) -> sa.ColumnElement[Any]:
        """A column, or a scalar subquery through references, to order rows by."""
        first, *rest = path
        attribute = self._resolve_attribute(entity_type, first, relation=bool(rest))
        if not rest:
            return self._scalar_column(entity_type, table, attribute)
        if attribute.kind is not AttributeKind.REFERENCE:
            raise QueryError(f"Cannot order by {'.'.join(path)}: {first} is not a reference.")
        relation = self.tables.relation(self.owner(entity_type, first, relation=True), first)
        target_type = self.schema.get(relation.target)
        target = self.tables.of(target_type).alias()
        column = self.order_column(target_type, target, rest)
        statement = self.related(relation, table, target).with_only_columns(column).limit(1)
        return statement.scalar_subquery()

    def _scalar_column(
        self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute
    ) -> sa.ColumnElement[Any]:
        if attribute.kind is not AttributeKind.SCALAR:
            raise QueryError(f"{entity_type.id}.{attribute.name} is a relation, not a value.")
        if not attribute.is_stored:
            rule = COMPUTED_COLUMNS.get(attribute.name)
            name = f"{entity_type.id}.{attribute.name}"
            if rule is None and attribute.name in COMPUTED_ATTRIBUTES:
                raise QueryError(
                    f"{name} is computed for each answer: it can be selected, but not used "
                    "in a filter, 'order by' or an aggregate."
                )
            if rule is None:
                raise QueryError(f"{name} is computed and cannot be used in queries yet.")
            return rule(self.tables, table)
        return table.c[attribute.name]

    def _resolve_attribute(
        self,
        entity_type: EntityType,
        name: str,
        *,
        relation: bool | None = None,
        filtering: bool = False,
    ) -> Attribute:
        attribute = self.owner(entity_type, name, relation=relation).attributes[name]
        if attribute.is_restricted and not (filtering and name in RESTRICTED_RELATIONS):
            usable = " It can only be used in a filter." if name in RESTRICTED_RELATIONS else ""
            raise QueryError(f"{entity_type.id}.{name} cannot be selected or ordered by.{usable}")
        return attribute

    def _relation(self, owner: EntityType, name: str) -> Relation:
        """How ``owner.name`` joins its target, the filter-only link relations included."""
        end = RESTRICTED_RELATIONS.get(name)
        if end is None:
            return self.tables.relation(owner, name)
        target = owner.attributes[name].target
        assert target is not None
        return Relation(owner.id, name, target, is_collection=True, pairs=(("id", end),))

    def owner(
        self, entity_type: EntityType, name: str, *, relation: bool | None = None
    ) -> EntityType:
        """The type whose attribute ``name`` a path on ``entity_type`` means.

        A base type's rows may be of subtypes with more attributes (``children.status`` on a
        Shot reaches Tasks): a name only some subtypes have resolves to the first of them,
        preferring one where it is a relation when ``relation`` is true. Rows of other types
        simply do not match.

        Raises:
            UnknownAttributeError: If neither the type nor any subtype has the attribute.
        """
        if name in entity_type.attributes:
            return entity_type
        candidates = [t for t in entity_type.descendants() if name in t.attributes]
        if relation is not None:
            fitting = [t for t in candidates if t.attributes[name].is_relation == relation]
            candidates = fitting or candidates
        if not candidates:
            raise UnknownAttributeError(entity_type.id, name, entity_type.attributes)
        return candidates[0]
