"""Custom attribute filters that see default values, as the answers do.

``Shot where custom_attributes any (key is "fstart" and value is 1001)`` holds for a shot
that has 1001 stored, and also for one that has nothing stored for a configuration whose
default is 1001 and that applies to it. The stored values are matched as any collection is;
the defaults are the configurations read as value rows (``configuration_id``, ``key``,
``value``, ``value_text``, ``value_number``), matched by the same criteria, and count for an
entity when the configuration applies to it and it has no stored value for it. Which
configurations apply follows :func:`shotbase.store.custom_attributes.applicable`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from shotbase.query import ast
from shotbase.schema.model import EntityType
from shotbase.store.custom_attributes import HIERARCHICAL_KINDS, owner_kind
from shotbase.store.tables import TYPE_COLUMN, Tables

if TYPE_CHECKING:
    from shotbase.query.conditions import ConditionCompiler

__all__ = ["DefaultNumber", "DefaultText", "defaulted_values"]

Condition = sa.ColumnElement[bool]
CONFIGURATION = "CustomAttributeConfiguration"


class DefaultText(FunctionElement[str]):
    """The text copy of a JSON default, as ``value_text`` holds it for stored values:
    strings as they are, numbers as written, booleans as ``true``/``false``, a date's
    ``value``."""

    type = sa.Text()
    name = "default_text"
    inherit_cache = True


class DefaultNumber(FunctionElement[float]):
    """The number copy of a JSON default, as ``value_number`` holds it: numbers, and
    booleans as 1 and 0."""

    type = sa.Float()
    name = "default_number"
    inherit_cache = True


# The two databases read JSON with different functions; nothing here is a value, so the SQL
# is fixed text around the column.


@compiles(DefaultText, "sqlite")
def _sqlite_text(element: DefaultText, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"CASE json_type({column}) WHEN 'text' THEN json_extract({column}, '$') "
        f"WHEN 'integer' THEN CAST(json_extract({column}, '$') AS TEXT) "
        f"WHEN 'real' THEN CAST(json_extract({column}, '$') AS TEXT) "
        "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"WHEN 'object' THEN CAST(json_extract({column}, '$.value') AS TEXT) END"
    )


@compiles(DefaultNumber, "sqlite")
def _sqlite_number(element: DefaultNumber, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"CASE json_type({column}) WHEN 'integer' THEN json_extract({column}, '$') "
        f"WHEN 'real' THEN json_extract({column}, '$') "
        "WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END"
    )


@compiles(DefaultText, "postgresql")
def _postgresql_text(element: DefaultText, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"CASE json_typeof({column}) WHEN 'string' THEN {column} #>> '{{}}' "
        f"WHEN 'number' THEN {column} #>> '{{}}' WHEN 'boolean' THEN {column} #>> '{{}}' "
        f"WHEN 'object' THEN {column} ->> 'value' END"
    )


@compiles(DefaultNumber, "postgresql")
def _postgresql_number(element: DefaultNumber, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return (
        f"CASE json_typeof({column}) "
        f"WHEN 'number' THEN CAST({column} #>> '{{}}' AS DOUBLE PRECISION) "
        f"WHEN 'boolean' THEN CASE {column} #>> '{{}}' WHEN 'true' THEN 1.0 ELSE 0.0 END END"
    )


def defaulted_values(
    compiler: ConditionCompiler,
    owner_type: EntityType,
    owner: sa.FromClause,
    value_type: EntityType,
    criteria: ast.Expression | None,
) -> Condition:
    """The owner row has no stored value for a configuration that applies to it and whose
    default meets ``criteria``."""
    tables = compiler.tables
    defaults = _defaults(tables, value_type)
    values = tables.families["CustomAttributeValue"].alias()
    # Correlated by hand: the owner is two selects up, beyond the reach of auto-correlation.
    stored = (
        sa.select(sa.literal(1))
        .select_from(values)
        .where(
            values.c.configuration_id == defaults.c.configuration_id,
            values.c.entity_id == owner.c.id,
        )
        .correlate_except(values)
        .exists()
    )
    matching = sa.select(sa.literal(1)).select_from(defaults)
    if criteria is not None:
        matching = matching.where(compiler.condition(value_type, defaults, criteria, top=True))
    applying = matching.where(_applies(tables, owner_type, owner, defaults), ~stored)
    # Whether any default matches at all is asked once (it names no row); most filters
    # (``value > 1090`` with a default of 1001) stop there.
    once = matching.correlate(None).exists()
    return sa.and_(once, applying.exists())


def _defaults(tables: Tables, value_type: EntityType) -> sa.Subquery:
    """Every configuration as the value row an entity without a stored value has."""
    configuration = tables.families["CustomConfigurationBase"].alias()
    default = configuration.c.default
    return (
        sa.select(
            configuration.c.id.label("configuration_id"),
            sa.cast(sa.null(), sa.Text).label("entity_id"),
            configuration.c.key.label("key"),
            default.label("value"),
            DefaultText(default).label("value_text"),
            DefaultNumber(default).label("value_number"),
            sa.literal(value_type.id).label(TYPE_COLUMN),
            configuration.c.entity_type,
            configuration.c.object_type_id,
            configuration.c.project_id,
            configuration.c.is_hierarchical,
        )
        .where(configuration.c[TYPE_COLUMN] == CONFIGURATION)
        .subquery()
    )


def _applies(
    tables: Tables, owner_type: EntityType, owner: sa.FromClause, configuration: sa.FromClause
) -> Condition:
    """The configuration applies to the owner row: by kind, object type and project, and no
    project configuration of the same key shadows a global one."""
    kinds: dict[str, list[str]] = {}
    for member in owner_type.descendants():
        kind = owner_kind(member)
        if kind is not None:
            kinds.setdefault(kind, []).append(member.id)
    branches = []
    for kind, members in kinds.items():
        condition = _applies_to_kind(tables, kind, owner, configuration)
        if len(kinds) > 1:
            condition = sa.and_(owner.c[TYPE_COLUMN].in_(members), condition)
        branches.append(condition)
    return sa.or_(*branches) if branches else sa.false()


def _applies_to_kind(
    tables: Tables, kind: str, owner: sa.FromClause, configuration: sa.FromClause
) -> Condition:
    project = owner.c.id if kind == "show" else _column(owner, "project_id")
    rival = tables.families["CustomConfigurationBase"].alias()
    shadowed = (
        sa.select(sa.literal(1))
        .select_from(rival)
        .where(
            rival.c[TYPE_COLUMN] == CONFIGURATION,
            rival.c.key == configuration.c.key,
            rival.c.project_id == project,
            _fits(kind, owner, rival.c),
        )
        .correlate_except(rival)
        .exists()
    )
    return sa.and_(
        _fits(kind, owner, configuration.c),
        sa.or_(configuration.c.project_id.is_(None), configuration.c.project_id == project),
        sa.or_(configuration.c.project_id.is_not(None), ~shadowed),
    )


def _fits(kind: str, owner: sa.FromClause, columns: Any) -> Condition:
    """The configuration is for entities of ``kind`` (and the owner's object type)."""
    hierarchical = columns.is_hierarchical.is_(True)
    plain = [
        sa.or_(columns.is_hierarchical.is_(None), columns.is_hierarchical.is_(False)),
        columns.entity_type == kind,
    ]
    if kind == "task":
        object_type = _column(owner, "object_type_id")
        plain.append(
            sa.or_(columns.object_type_id.is_(None), columns.object_type_id == object_type)
        )
    if kind in HIERARCHICAL_KINDS:
        return sa.or_(hierarchical, sa.and_(*plain))
    return sa.and_(*plain)


def _column(table: sa.FromClause, name: str) -> sa.ColumnElement[Any]:
    """A column of the owner's table, or NULL when its family has none."""
    return table.c[name] if name in table.c else sa.null()
