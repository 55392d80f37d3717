"""Recorded changes and how a commit squashes them into one batch (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shotbase.client.symbol import UNSET

__all__ = [
    "CreateOperation",
    "DeleteOperation",
    "Identity",
    "Operation",
    "UpdateOperation",
    "squash",
]

Identity = tuple[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class CreateOperation:
    """An entity was created with ``data`` (scalar attributes, defaults included)."""

    identity: Identity
    key: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UpdateOperation:
    """One attribute of an entity was set to ``value``."""

    identity: Identity
    key: dict[str, Any]
    attribute: str
    value: Any


@dataclass(frozen=True, slots=True)
class DeleteOperation:
    """An entity was deleted."""

    identity: Identity
    key: dict[str, Any]


Operation = CreateOperation | UpdateOperation | DeleteOperation


def squash(operations: Sequence[Operation]) -> list[dict[str, Any]]:
    """Turn recorded operations into the fewest ``/api`` payloads, in a safe order.

    Entities created and deleted in the same batch vanish; for each attribute only the last
    update survives; consecutive updates of one entity merge, and an update right after the
    entity's create merges into the create. Values are left unencoded.
    """
    created = {op.identity for op in operations if isinstance(op, CreateOperation)}
    deleted = {op.identity for op in operations if isinstance(op, DeleteOperation)}
    vanished = created & deleted
    kept = _last_updates_only(op for op in operations if op.identity not in vanished)
    payloads: list[dict[str, Any]] = []
    last_identity: Identity | None = None
    for op in kept:
        if isinstance(op, UpdateOperation):
            if op.value is UNSET:
                continue
            previous = payloads[-1] if payloads else None
            if (
                previous is not None
                and last_identity == op.identity
                and previous["action"] != "delete"
            ):
                previous["entity_data"][op.attribute] = op.value
                continue
            payloads.append(_payload("update", op, {op.attribute: op.value}))
        elif isinstance(op, CreateOperation):
            data = {name: value for name, value in op.data.items() if value is not UNSET}
            payloads.append(_payload("create", op, {**op.key, **data}))
        else:
            payloads.append(_payload("delete", op, None))
        last_identity = op.identity
    return payloads


def _last_updates_only(operations: Iterable[Operation]) -> list[Operation]:
    ordered = list(operations)
    seen: set[tuple[Identity, str]] = set()
    kept: list[Operation] = []
    for op in reversed(ordered):
        if isinstance(op, UpdateOperation):
            slot = (op.identity, op.attribute)
            if slot in seen:
                continue
            seen.add(slot)
        kept.append(op)
    kept.reverse()
    return kept


def _payload(action: str, op: Operation, data: dict[str, Any] | None) -> dict[str, Any]:
    entity_type, key = op.identity
    payload: dict[str, Any] = {
        "action": action,
        "entity_type": entity_type,
        "entity_key": list(key),
    }
    if data is not None:
        payload["entity_data"] = {"__entity_type__": entity_type, **data}
    return payload
