"""Which columns an answer level reads: only what its projections and the wire shape need.

A row carries its type, its primary key, its types' system attributes, the projected stored
values and the columns that hold projected references. Reading every column of a wide family
table (the context table has about 25) costs more than the query itself when the rows are
many: each value crosses the driver and dates are parsed, only to be dropped.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shotbase.query.computed import COMPUTED_READS
from shotbase.schema.model import AttributeKind, EntityType
from shotbase.store.tables import TYPE_COLUMN, Tables

__all__ = ["needed_columns"]


def needed_columns(
    tables: Tables, entity_type: EntityType, names: tuple[str, ...]
) -> list[sa.Column[Any]]:
    """The columns of ``entity_type``'s table that loading the attributes ``names`` reads.

    Computed attributes add the columns their rule reads; ``custom_attributes`` (which reads
    the entity's type, object type and project) takes every column.
    """
    table = tables.of(entity_type)
    members = list(entity_type.descendants())
    wanted: dict[str, None] = dict.fromkeys(entity_type.primary_key)
    if TYPE_COLUMN in table.c:
        wanted[TYPE_COLUMN] = None
    for member in members:
        wanted.update(dict.fromkeys(name for name in member.system_attributes if name in table.c))
    for name in names:
        for member in members:
            attribute = member.attributes.get(name)
            if attribute is None:
                continue
            if attribute.kind is AttributeKind.SCALAR:
                if attribute.is_stored:
                    wanted[name] = None
                elif name in COMPUTED_READS:
                    wanted.update(dict.fromkeys(COMPUTED_READS[name]))
                else:
                    return list(table.c)
                continue
            if name == "custom_attributes":
                return list(table.c)
            relation = tables.relations.get((member.id, name))
            if relation is None:
                continue
            if relation.derived or relation.tree:
                wanted.update(dict.fromkeys(member.primary_key))
            else:
                local = [a for a, _ in relation.pairs] or list(member.primary_key)
                wanted.update(dict.fromkeys(local))
    return [table.c[name] for name in wanted if name in table.c]
