"""``ftrack.update`` events: what a committed batch changed, in the shape plugins read.

The entities are described inside the batch's transaction (parents are looked up there) and
the event is published by the route only after the transaction commits (PROTOCOL 7.9).
Attribute names in ``keys`` and ``changes`` are shotbase's API names (``status_id``), not the
ftrack backend column names (``statusid``); ``entityType`` uses the backend table names
(``task`` for every typed context, ``show`` for projects) that existing plugins filter on.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from shotbase.events.event import Event, new_id
from shotbase.schema.model import EntityType
from shotbase.store.accounts import Account
from shotbase.store.tables import TYPE_COLUMN, Tables
from shotbase.store.writer import Change

__all__ = ["UPDATE_TOPIC", "describe_changes", "update_event"]

UPDATE_TOPIC = "ftrack.update"
CHUNK = 500
# Deep enough for any real hierarchy; stops a corrupt parent cycle from looping forever.
MAX_DEPTH = 64

Lineage = dict[str, tuple[str | None, str]]  # context id -> (parent id, entity type id)


def collect_lineage(
    tables: Tables, connection: sa.Connection, changes: Sequence[Change]
) -> Lineage:
    """What :func:`describe_changes` needs from the database, read inside the transaction
    (deleted contexts are still there to be read)."""
    starts = set()
    for change in changes:
        row = _row_of(change)
        column = _parent_column(change, row)
        if column is not None:
            starts.add(str(row[column]))
    return _lineage(tables, connection, starts) if starts else {}


def describe_changes(
    tables: Tables, changes: Sequence[Change], lineage: Lineage
) -> list[dict[str, Any]]:
    """The ``data.entities`` list of an ``ftrack.update`` event for ``changes``.

    Pure work on values: run after the answer is sent, off the request's path.
    """
    if not changes:
        return []
    rows = [_row_of(change) for change in changes]
    # Entities under one parent share its ancestors: computed once, reused (read only).
    ancestors: dict[str | None, list[dict[str, Any]]] = {}
    return [
        _describe(tables.schema.types, change, row, lineage, ancestors)
        for change, row in zip(changes, rows, strict=True)
    ]


def update_event(
    entities: list[dict[str, Any]], account: Account, headers: Mapping[str, str]
) -> Event:
    """The ``ftrack.update`` event for a committed batch by ``account``."""
    parents: list[str] = []
    for entity in entities:
        for parent in entity["parents"]:
            if parent["entityId"] not in parents:
                parents.append(parent["entityId"])
    user = {"id": account.id, "username": account.username}
    return Event(
        topic=UPDATE_TOPIC,
        data={
            "entities": entities,
            "parents": parents,
            "user": {"userid": account.id, "name": account.username},
            "clientToken": headers.get("ftrack-clienttoken"),
            "pushToken": headers.get("ftrack-pushtoken"),
        },
        source={"id": new_id(), "applicationId": "shotbase.server", "user": user},
    )


def backend_name(entity_type: EntityType) -> str:
    """The ftrack backend table name plugins see in ``entityType``."""
    if entity_type.id == "Project":
        return "show"
    if entity_type.root.id == "Context":
        return "task"
    return entity_type.id.lower()


def _row_of(change: Change) -> Mapping[str, Any]:
    return change.old if change.action == "remove" else {**change.old, **change.new}


def _parent_column(change: Change, row: Mapping[str, Any]) -> str | None:
    for name in ("parent_id", "context_id"):
        if row.get(name) is not None and name in change.entity_type.attributes:
            return name
    return None


def _describe(
    types: Mapping[str, EntityType],
    change: Change,
    row: Mapping[str, Any],
    lineage: Lineage,
    ancestors: dict[str | None, list[dict[str, Any]]],
) -> dict[str, Any]:
    entity_type = change.entity_type
    if change.action == "update":
        names = list(change.new)
    else:
        names = [name for name, value in row.items() if value is not None]
    # Column names may be str subclasses (SQLAlchemy's quoted names); JSON wants plain str.
    names = [str(name) for name in names if name != TYPE_COLUMN]
    changes = {
        name: {"old": _plain(change.old.get(name)), "new": _plain(change.new.get(name))}
        for name in names
    }
    entity_id = change.key[0] if len(change.key) == 1 else ",".join(change.key)
    parent_column = _parent_column(change, row)
    parent_id = None if parent_column is None else str(row[parent_column])
    described: dict[str, Any] = {
        "entityId": entity_id,
        "entityKey": list(change.key),
        "entityType": backend_name(entity_type),
        "entity_type": entity_type.id,
        "action": change.action,
        "keys": names,
        "changes": changes,
        "parentId": parent_id,
    }
    if "object_type_id" in row:
        described["objectTypeId"] = row.get("object_type_id")
    itself = {
        "entityId": entity_id,
        "entityType": backend_name(entity_type),
        "entity_type": entity_type.id,
        "parentId": parent_id,
    }
    if parent_id not in ancestors:
        ancestors[parent_id] = _ancestors(types, parent_id, lineage)
    described["parents"] = [itself, *ancestors[parent_id]]
    return described


def _ancestors(
    types: Mapping[str, EntityType], start: str | None, lineage: Lineage
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    current = start
    while current is not None and current in lineage and len(found) < MAX_DEPTH:
        parent_id, type_id = lineage[current]
        found.append(
            {
                "entityId": current,
                "entityType": backend_name(types[type_id]),
                "entity_type": type_id,
                "parentId": parent_id,
            }
        )
        current = parent_id
    return found


def _lineage(tables: Tables, connection: sa.Connection, starts: Iterable[str]) -> Lineage:
    """Parent and type of every context above ``starts``: one query per level."""
    table = tables.families["Context"]
    known: Lineage = {}
    frontier = sorted(set(starts))
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        for offset in range(0, len(frontier), CHUNK):
            chunk = frontier[offset : offset + CHUNK]
            statement = sa.select(table.c.id, table.c.parent_id, table.c[TYPE_COLUMN]).where(
                table.c.id.in_(chunk)
            )
            for found in connection.execute(statement):
                parent = None if found[1] is None else str(found[1])
                known[str(found[0])] = (parent, str(found[2]))
        frontier = sorted(
            {parent for parent, _ in known.values() if parent is not None and parent not in known}
        )
    return known


PLAIN_TYPES = frozenset({str, int, float, bool})


def _plain(value: Any) -> Any:
    """A JSON-ready form of a stored value."""
    if value is None or type(value) in PLAIN_TYPES:
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
