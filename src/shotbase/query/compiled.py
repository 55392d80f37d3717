"""What compiling a query produces: the root select and the matches to read before it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shotbase.query.joins import JoinedReference
from shotbase.schema.model import EntityType

__all__ = ["CompiledQuery", "Prefetch"]


@dataclass(frozen=True, slots=True)
class Prefetch:
    """The matches of one reference filter (``project.full_name is "X"``), read before the
    root select and bound into it under ``key``."""

    key: str
    statement: sa.Select[Any]  # limited to one row more than ``most``
    most: int
    column: tuple[str, str]  # the (table, column) compared with the matches


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
