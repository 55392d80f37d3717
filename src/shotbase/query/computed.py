"""Computed attributes: values the server derives when a query projects them.

Each rule takes every row of one answer level at once and returns one value per row, so a
computed projection costs a fixed number of statements whatever the row count. Values that
filters and ``order by`` can use also have a column rule: the same value as SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from shotbase.schema.model import EntityType
from shotbase.store.tables import TYPE_COLUMN, Tables
from shotbase.store.types import Row

__all__ = [
    "COMPUTED_ATTRIBUTES",
    "COMPUTED_COLUMNS",
    "COMPUTED_READS",
    "ComputeContext",
    "thumbnail_id_column",
]

CHUNK = 2000  # keys a statement sends; a page of 1,000 entities takes one


@dataclass(frozen=True, slots=True)
class ComputeContext:
    """What computed values depend on besides the rows: the tables and the server's URL."""

    tables: Tables
    base_url: str


Rule = Callable[[ComputeContext, sa.Connection, EntityType, Sequence[Row]], list[Any]]
# The SQL of a computed value, for filters and ``order by``: (tables, the owner's table).
ColumnRule = Callable[[Tables, sa.FromClause], sa.ColumnElement[Any]]


def thumbnail_url(
    context: ComputeContext, connection: sa.Connection, entity_type: EntityType, rows: Sequence[Row]
) -> list[Any]:
    """``{"url": ...}`` of the entity's thumbnail, or of the placeholder image.

    Where ``thumbnail_id`` is itself computed (a review session's), its rule gives it.
    """
    holder = entity_type.attributes.get("thumbnail_id")
    if holder is not None and holder.is_computed:
        thumbnails = COMPUTED_ATTRIBUTES["thumbnail_id"](context, connection, entity_type, rows)
    else:
        thumbnails = [row.get("thumbnail_id") for row in rows]
    urls = []
    for thumbnail in thumbnails:
        if thumbnail:
            query = urlencode({"id": thumbnail})
            urls.append({"url": f"{context.base_url}/component/thumbnail?{query}"})
        else:
            urls.append({"url": f"{context.base_url}/img/thumbnail2.png"})
    return urls


def component_url(
    context: ComputeContext, connection: sa.Connection, entity_type: EntityType, rows: Sequence[Row]
) -> list[Any]:
    """``{"value": ...}``: where the component's data can be downloaded from the server."""
    return [
        {"value": f"{context.base_url}/component/get?{urlencode({'id': row['component_id']})}"}
        if row.get("component_id")
        else {"value": None}
        for row in rows
    ]


def link(
    context: ComputeContext, connection: sa.Connection, entity_type: EntityType, rows: Sequence[Row]
) -> list[Any]:
    """The path from the project down to the entity: ``[{"id", "name", "type"}, ...]``."""
    tables = context.tables
    if entity_type.root.id == "Context":
        # A context's link is its parent's and then itself. Siblings share a parent (a page of
        # tasks has a tenth as many shots), so only the parents' links are read.
        parents = _context_chains(
            tables, connection, sorted({row["parent_id"] for row in rows if row["parent_id"]})
        )
        return [[*parents.get(row["parent_id"], ()), _step(row)] for row in rows]
    if entity_type.id == "AssetVersion":
        asset = tables.families["Asset"]
        asset_ids = sorted({row["asset_id"] for row in rows if row.get("asset_id")})
        assets = {
            found["id"]: found
            for chunk in _chunks(asset_ids)
            for found in connection.execute(
                sa.select(asset.c.id, asset.c.name, asset.c.context_id).where(asset.c.id.in_(chunk))
            ).mappings()
        }
        contexts = _context_chains(
            tables, connection, [a["context_id"] for a in assets.values() if a["context_id"]]
        )
        links = []
        for row in rows:
            found = assets.get(row.get("asset_id"))
            chain = list(contexts.get(found["context_id"], [])) if found else []
            if found:
                chain.append({"id": found["id"], "name": found["name"], "type": "Asset"})
            chain.append(
                {"id": row["id"], "name": f"v{row['version'] or 0}", "type": "AssetVersion"}
            )
            links.append(chain)
        return links
    return [[{"id": row["id"], "name": row.get("name"), "type": entity_type.id}] for row in rows]


def time_logged(
    context: ComputeContext, connection: sa.Connection, entity_type: EntityType, rows: Sequence[Row]
) -> list[Any]:
    """Seconds logged on the context: the sum of its timelogs' durations."""
    totals = _time_logged(context, connection, rows)
    return [float(totals.get(row["id"], 0.0)) for row in rows]


def bid_time_logged_difference(
    context: ComputeContext, connection: sa.Connection, entity_type: EntityType, rows: Sequence[Row]
) -> list[Any]:
    """Bid minus time logged, in seconds."""
    totals = _time_logged(context, connection, rows)
    return [float((row.get("bid") or 0.0) - totals.get(row["id"], 0.0)) for row in rows]


def time_logged_column(tables: Tables, table: sa.FromClause) -> sa.ColumnElement[Any]:
    """``time_logged`` in SQL: the sum of the context's timelogs, 0 without any."""
    timelog = tables.families["Timelog"].alias()
    total = sa.func.coalesce(sa.func.sum(timelog.c.duration), 0.0)
    return sa.select(total).where(timelog.c.context_id == table.c.id).scalar_subquery()


def bid_time_logged_difference_column(
    tables: Tables, table: sa.FromClause
) -> sa.ColumnElement[Any]:
    """``bid_time_logged_difference`` in SQL: the bid (0 when unset) minus time logged."""
    return sa.func.coalesce(table.c.bid, 0.0) - time_logged_column(tables, table)


def is_open(
    context: ComputeContext, connection: sa.Connection, entity_type: EntityType, rows: Sequence[Row]
) -> list[Any]:
    """Whether a review session is open: true while it is not closed, that is while its
    ``end_date`` is null or later than now (the server's clock, in UTC, as dates are stored);
    false once ``end_date`` has passed."""
    now = _utc_now()
    return [row["end_date"] is None or row["end_date"] > now for row in rows]


def is_open_column(tables: Tables, table: sa.FromClause) -> sa.ColumnElement[Any]:
    """``is_open`` in SQL: ``end_date`` is null or later than now (see :func:`is_open`).

    Now is a bound parameter read each time the statement runs, not when it is built:
    compiled queries are cached and reused.
    """
    now = sa.bindparam("now", type_=sa.DateTime(), callable_=_utc_now, unique=True)
    return sa.or_(table.c.end_date.is_(None), table.c.end_date > now)


def thumbnail_id(
    context: ComputeContext, connection: sa.Connection, entity_type: EntityType, rows: Sequence[Row]
) -> list[Any]:
    """A review session's thumbnail: the ``thumbnail_id`` of the version of its first object
    that has one, or None (see :func:`thumbnail_id_column`). One statement per chunk."""
    found = _review_session_thumbnails(
        context.tables, connection, sorted({row["id"] for row in rows})
    )
    return [found.get(row["id"]) for row in rows]


def thumbnail_id_column(tables: Tables, table: sa.FromClause) -> sa.ColumnElement[Any]:
    """A review session's ``thumbnail_id`` in SQL, as the real server derives it.

    It is the ``thumbnail_id`` of the version of the session's first object (by
    ``sort_order``, then ``created_at``, then id; unset values last) whose version has a
    thumbnail, and NULL when none has. ``thumbnail`` names that component and
    ``thumbnail_url`` reads it.
    """
    objects = tables.families["ReviewSessionObject"].alias()
    versions = tables.families["AssetVersion"].alias()
    return (
        sa.select(versions.c.thumbnail_id)
        .select_from(objects.join(versions, objects.c.version_id == versions.c.id))
        .where(objects.c.review_session_id == table.c.id, versions.c.thumbnail_id.is_not(None))
        .order_by(
            objects.c.sort_order.asc().nulls_last(),
            objects.c.created_at.asc().nulls_last(),
            objects.c.id,
        )
        .limit(1)
        .correlate(table)
        .scalar_subquery()
    )


def _review_session_thumbnails(
    tables: Tables, connection: sa.Connection, ids: Sequence[Any]
) -> dict[Any, Any]:
    """The thumbnail id of each review session in ``ids`` that has one."""
    table = tables.families["ReviewSession"]
    column = thumbnail_id_column(tables, table).label("thumbnail_id")
    found: dict[Any, Any] = {}
    for chunk in _chunks(ids):
        statement = sa.select(table.c.id, column).where(table.c.id.in_(chunk))
        for session_id, thumbnail in connection.execute(statement):
            if thumbnail is not None:
                found[session_id] = thumbnail
    return found


def _utc_now() -> dt.datetime:
    """The server's time as stored dates are: naive UTC."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _time_logged(
    context: ComputeContext, connection: sa.Connection, rows: Sequence[Row]
) -> dict[str, float]:
    timelog = context.tables.families["Timelog"]
    ids = sorted({row["id"] for row in rows})
    totals: dict[str, float] = {}
    for chunk in _chunks(ids):
        statement = (
            sa.select(timelog.c.context_id, sa.func.sum(timelog.c.duration))
            .where(timelog.c.context_id.in_(chunk))
            .group_by(timelog.c.context_id)
        )
        for context_id, total in connection.execute(statement):
            totals[context_id] = float(total or 0.0)
    return totals


def _context_chains(
    tables: Tables, connection: sa.Connection, ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """For each context id, its ancestors from the project down to itself.

    Two statements a chunk whatever the depth: the contexts themselves, and their ancestors
    through the context tree index.
    """
    table, closure = tables.families["Context"], tables.closure
    columns = (table.c.id, table.c.name, table.c[TYPE_COLUMN])
    chains: dict[str, list[dict[str, Any]]] = {context_id: [] for context_id in ids}
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(ids))):
        above = (
            sa.select(closure.c.descendant_id, *columns)
            .select_from(closure.join(table, closure.c.ancestor_id == table.c.id))
            .where(closure.c.descendant_id.in_(chunk))
            .order_by(closure.c.descendant_id, closure.c.depth.desc())
        )
        for row in connection.execute(above).mappings():
            chains[row["descendant_id"]].append(_step(row))
        statement = sa.select(*columns).where(table.c.id.in_(chunk))
        for row in connection.execute(statement).mappings():
            found[row["id"]] = _step(row)
    return {
        context_id: [*chain, found[context_id]] if context_id in found else []
        for context_id, chain in chains.items()
    }


def _step(row: Row) -> dict[str, Any]:
    kind = "Project" if row[TYPE_COLUMN] == "Project" else "TypedContext"
    return {"id": row["id"], "name": row["name"], "type": kind}


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


COMPUTED_ATTRIBUTES: dict[str, Rule] = {
    "thumbnail_url": thumbnail_url,
    "url": component_url,
    "link": link,
    "_link": link,
    "time_logged": time_logged,
    "bid_time_logged_difference": bid_time_logged_difference,
    "is_open": is_open,
    "thumbnail_id": thumbnail_id,
}

# The columns of its row each rule reads (where the row's table has them).
COMPUTED_READS: dict[str, tuple[str, ...]] = {
    "thumbnail_url": ("thumbnail_id", "id"),
    "url": ("component_id",),
    "link": ("id", "name", "parent_id", "asset_id", "version", TYPE_COLUMN),
    "_link": ("id", "name", "parent_id", "asset_id", "version", TYPE_COLUMN),
    "time_logged": ("id",),
    "bid_time_logged_difference": ("id", "bid"),
    "is_open": ("end_date",),
    "thumbnail_id": ("id",),
}

# Computed values that filters and ``order by`` can use. The others (URLs, ``link``) are
# answers for display, refused there with an error that names them.
COMPUTED_COLUMNS: dict[str, ColumnRule] = {
    "time_logged": time_logged_column,
    "bid_time_logged_difference": bid_time_logged_difference_column,
    "is_open": is_open_column,
    "thumbnail_id": thumbnail_id_column,
}
