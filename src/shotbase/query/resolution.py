"""Resolve the names of a query against the schema: attributes, relations and their rows.

A name on a base type may belong to one of its subtypes (:func:`owner`), some relations may
only be filtered on (:data:`RESTRICTED_RELATIONS`), a family's table holds the rows of every
type in it (:func:`type_filter`), and each relation reads as a select of the rows it joins to
an owner row (:func:`related`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from shotbase.errors import QueryError, UnknownAttributeError
from shotbase.query.computed import COMPUTED_ATTRIBUTES, COMPUTED_COLUMNS, thumbnail_id_column
from shotbase.schema.model import Attribute, AttributeKind, EntityType
from shotbase.schema.relations import Relation
from shotbase.store.tables import TYPE_COLUMN, Tables

__all__ = [
    "RESTRICTED_RELATIONS",
    "UNTYPED_FAMILIES",
    "Condition",
    "owner",
    "related",
    "resolve_attribute",
    "resolve_relation",
    "scalar_column",
    "tree_closure",
    "type_filter",
]

Condition = ColumnElement[bool]

# Relations that only filters may use, and the column of the link that names the owner:
# ``custom_attribute_links`` are the links from an entity, ``..._from`` the links to it.
RESTRICTED_RELATIONS = {"custom_attribute_links": "from_id", "custom_attribute_links_from": "to_id"}
# Families whose rows are of whichever subtype their ends make them: a link's ``user`` is the
# user its ``to_id`` names, whatever type the link was created as.
UNTYPED_FAMILIES = {"CustomAttributeLink"}


def owner(entity_type: EntityType, name: str, *, relation: bool | None = None) -> EntityType:
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


def resolve_attribute(
    entity_type: EntityType,
    name: str,
    *,
    relation: bool | None = None,
    filtering: bool = False,
) -> Attribute:
    """The attribute ``name`` means on ``entity_type`` (see :func:`owner`).

    Args:
        entity_type: The type the name is used on.
        name: The attribute's name.
        relation: Prefer a subtype where the name is a relation (True) or a value (False).
        filtering: The name is used in a filter, where filter-only relations are allowed.
    Raises:
        UnknownAttributeError: If neither the type nor any subtype has the attribute.
        QueryError: If the attribute is restricted and may not be used here.
    """
    attribute = owner(entity_type, name, relation=relation).attributes[name]
    if attribute.is_restricted and not (filtering and name in RESTRICTED_RELATIONS):
        usable = " It can only be used in a filter." if name in RESTRICTED_RELATIONS else ""
        raise QueryError(f"{entity_type.id}.{name} cannot be selected or ordered by.{usable}")
    return attribute


def resolve_relation(tables: Tables, owner_type: EntityType, name: str) -> Relation:
    """How ``owner_type.name`` joins its target, the filter-only link relations included."""
    end = RESTRICTED_RELATIONS.get(name)
    if end is None:
        return tables.relation(owner_type, name)
    target = owner_type.attributes[name].target
    assert target is not None
    return Relation(owner_type.id, name, target, is_collection=True, pairs=(("id", end),))


def type_filter(entity_type: EntityType, table: sa.FromClause) -> list[Condition]:
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


def scalar_column(
    tables: Tables, entity_type: EntityType, table: sa.FromClause, attribute: Attribute
) -> sa.ColumnElement[Any]:
    """The value of ``attribute`` on rows of ``table``: its column, or its computed rule.

    Raises:
        QueryError: If the attribute is a relation, or is computed only for answers.
    """
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
        return rule(tables, table)
    return table.c[attribute.name]


def tree_closure(
    tables: Tables, direction: str
) -> tuple[sa.FromClause, sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """A fresh alias of the tree closure, with its column for the row a tree relation starts
    from and its column for the rows it reaches (``ancestors`` or ``descendants``)."""
    closure = tables.closure.alias()
    if direction == "ancestors":
        return closure, closure.c.descendant_id, closure.c.ancestor_id
    return closure, closure.c.ancestor_id, closure.c.descendant_id


def related(
    tables: Tables, relation: Relation, owner_table: sa.FromClause, target: sa.FromClause
) -> sa.Select[Any]:
    """``select 1 from target`` joined to the owner row by ``relation``.

    Raises:
        QueryError: If the relation is computed in a way no select can follow yet.
    """
    if relation.tree:
        closure, near, far = tree_closure(tables, relation.tree)
        return (
            sa.select(sa.literal(1))
            .select_from(closure.join(target, far == target.c.id))
            .where(near == owner_table.c.id)
        )
    if relation.derived == "latest_version":
        newer = tables.families["AssetVersion"].alias()
        is_newer = sa.and_(
            newer.c.asset_id == target.c.asset_id, newer.c.version > target.c.version
        )
        return (
            sa.select(sa.literal(1))
            .select_from(target)
            .where(target.c.asset_id == owner_table.c.id, ~sa.exists().where(is_newer))
        )
    if relation.derived == "thumbnail":
        return (
            sa.select(sa.literal(1))
            .select_from(target)
            .where(target.c.id == thumbnail_id_column(tables, owner_table))
        )
    if relation.derived:
        raise QueryError(
            f"{relation.owner}.{relation.name} is computed and cannot be filtered on yet."
        )
    if relation.link_table:
        link = tables.links[relation.link_table].alias()
        return (
            sa.select(sa.literal(1))
            .select_from(link.join(target, link.c.target_id == target.c.id))
            .where(link.c.owner_id == owner_table.c.id)
        )
    if relation.through:
        link = tables.of(tables.schema.get(relation.through)).alias()
        onward = sa.and_(*(link.c[a] == target.c[b] for a, b in relation.onward))
        return (
            sa.select(sa.literal(1))
            .select_from(link.join(target, onward))
            .where(*(owner_table.c[a] == link.c[b] for a, b in relation.pairs))
        )
    statement = sa.select(sa.literal(1)).select_from(target)
    statement = statement.where(*(owner_table.c[a] == target.c[b] for a, b in relation.pairs))
    return statement.where(*(target.c[k] == v for k, v in relation.where.items()))
