"""The event value and its wire form (PROTOCOL 7.4)."""

from __future__ import annotations

from typing import Any

import pytest

from shotbase.events.event import WIRE_KEYS, Event


def test_wire_form_has_exactly_the_keys_the_official_client_accepts() -> None:
    wire = Event("a.b", data={"x": 1}, in_reply_to_event="e1").to_wire()

    assert set(wire) == WIRE_KEYS
    assert wire["inReplyToEvent"] == "e1"
    assert wire["target"] == ""


def test_from_wire_reads_both_spellings_of_in_reply_to() -> None:
    camel = Event.from_wire({"topic": "t", "inReplyToEvent": "a"})
    snake = Event.from_wire({"topic": "t", "in_reply_to_event": "b"})

    assert (camel.in_reply_to_event, snake.in_reply_to_event) == ("a", "b")


def test_from_wire_round_trips() -> None:
    event = Event("t", data={"k": [1]}, source={"id": "s"}, target="id=s", sent="now")

    assert Event.from_wire(event.to_wire()) == event


def test_from_wire_ignores_unknown_keys_and_fills_an_id() -> None:
    event = Event.from_wire({"topic": "t", "extra": 1, "id": ""})

    assert len(event.id) == 32


BAD: list[tuple[Any, str]] = [
    ([], "must be a JSON object"),
    ({}, "topic"),
    ({"topic": ""}, "topic"),
    ({"topic": 3}, "topic"),
    ({"topic": "t", "data": []}, "'data'"),
    ({"topic": "t", "source": "me"}, "'source'"),
    ({"topic": "t", "target": 5}, "target"),
    ({"topic": "t", "inReplyToEvent": 5}, "inReplyToEvent"),
]


@pytest.mark.parametrize(("payload", "message"), BAD, ids=[m for _, m in BAD])
def test_from_wire_refuses_malformed_events(payload: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Event.from_wire(payload)


def test_event_needs_a_topic() -> None:
    with pytest.raises(ValueError, match="topic"):
        Event("")


def test_stop_marks_the_event_and_a_copy_is_not_stopped() -> None:
    event = Event("t")
    event.stop()

    assert event.is_stopped()
    assert not event.with_changes(target="x").is_stopped()


def test_fields_read_by_name_as_official_handlers_do() -> None:
    event = Event("t", data={"a": 1}, in_reply_to_event="r")

    assert event["data"] == {"a": 1}
    assert event["in_reply_to_event"] == event["inReplyToEvent"] == "r"
    assert event.get("nope", 7) == 7
    with pytest.raises(KeyError):
        event["nope"]


def test_candidate_offers_both_reply_spellings() -> None:
    candidate = Event("t", in_reply_to_event="r").candidate()

    assert candidate["in_reply_to_event"] == candidate["inReplyToEvent"] == "r"
