"""The ``ftrack.update`` event built after a commit (PROTOCOL 7.9)."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from shotbase.events.event import WIRE_KEYS
from shotbase.schema import load_builtin_schema
from shotbase.server.updates import _plain, backend_name, update_event
from shotbase.store.accounts import Account


@pytest.mark.parametrize(
    ("type_id", "expected"),
    [("Project", "show"), ("Shot", "task"), ("Task", "task"), ("AssetVersion", "assetversion")],
    ids=["project", "shot", "task", "version"],
)
def test_entity_type_uses_the_backend_names_plugins_filter_on(type_id: str, expected: str) -> None:
    assert backend_name(load_builtin_schema().get(type_id)) == expected


def test_update_event_carries_user_tokens_and_every_parent_once() -> None:
    entities = [
        {"entityId": "a", "parents": [{"entityId": "a"}, {"entityId": "p"}]},
        {"entityId": "b", "parents": [{"entityId": "b"}, {"entityId": "p"}]},
    ]
    event = update_event(entities, Account("u-1", "ana"), {"ftrack-clienttoken": "t"})

    assert set(event.to_wire()) == WIRE_KEYS
    assert event.topic == "ftrack.update"
    assert event.data["parents"] == ["a", "p", "b"]
    assert event.data["clientToken"] == "t" and event.data["pushToken"] is None
    assert event.source["user"] == {"id": "u-1", "username": "ana"}


def test_stored_values_become_json_values() -> None:
    value = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5),
        "day": dt.date(2026, 1, 2),
        "amount": decimal.Decimal("1.5"),
        "raw": b"x",
        "list": (1, "a"),
    }

    assert _plain(value) == {
        "when": "2026-01-02T03:04:05",
        "day": "2026-01-02",
        "amount": 1.5,
        "raw": "x",
        "list": [1, "a"],
    }
