"""Squashing recorded operations into the fewest payloads."""

from __future__ import annotations

from typing import Any

from shotbase.client.operation import (
    CreateOperation,
    DeleteOperation,
    Identity,
    UpdateOperation,
    squash,
)
from shotbase.client.symbol import UNSET

SHOT: Identity = ("Shot", ("s1",))
TASK: Identity = ("Task", ("t1",))


def create(identity: Identity, **data: Any) -> CreateOperation:
    return CreateOperation(identity, {"id": identity[1][0]}, data)


def update(identity: Identity, attribute: str, value: Any) -> UpdateOperation:
    return UpdateOperation(identity, {"id": identity[1][0]}, attribute, value)


def delete(identity: Identity) -> DeleteOperation:
    return DeleteOperation(identity, {"id": identity[1][0]})


def test_update_right_after_create_is_merged_into_the_create() -> None:
    payloads = squash([create(SHOT, name="sh010"), update(SHOT, "parent", "P")])

    assert payloads == [
        {
            "action": "create",
            "entity_type": "Shot",
            "entity_key": ["s1"],
            "entity_data": {"__entity_type__": "Shot", "id": "s1", "name": "sh010", "parent": "P"},
        }
    ]


def test_consecutive_updates_of_one_entity_are_merged() -> None:
    payloads = squash([update(TASK, "name", "a"), update(TASK, "description", "d")])

    assert [p["entity_data"] for p in payloads] == [
        {"__entity_type__": "Task", "name": "a", "description": "d"}
    ]


def test_only_the_last_update_of_an_attribute_survives() -> None:
    payloads = squash(
        [update(TASK, "name", "a"), update(SHOT, "name", "x"), update(TASK, "name", "b")]
    )

    assert [(p["entity_type"], p["entity_data"]) for p in payloads] == [
        ("Shot", {"__entity_type__": "Shot", "name": "x"}),
        ("Task", {"__entity_type__": "Task", "name": "b"}),
    ]


def test_entity_created_and_deleted_in_one_batch_vanishes() -> None:
    payloads = squash([create(SHOT, name="a"), update(SHOT, "name", "b"), delete(SHOT)])

    assert payloads == []


def test_non_consecutive_update_after_create_stays_separate() -> None:
    payloads = squash([create(SHOT), create(TASK), update(SHOT, "name", "n")])

    assert [p["action"] for p in payloads] == ["create", "create", "update"]


def test_unset_values_are_dropped() -> None:
    assert squash([update(TASK, "name", UNSET)]) == []


def test_delete_keeps_only_type_and_key() -> None:
    assert squash([delete(TASK)]) == [
        {"action": "delete", "entity_type": "Task", "entity_key": ["t1"]}
    ]
