"""The subscription and target expression language (PROTOCOL 7.7)."""

from __future__ import annotations

from typing import Any

import pytest

from shotbase.events.expression import parse_expression

EVENT: dict[str, Any] = {
    "topic": "ftrack.action.launch",
    "data": {"actionIdentifier": "open-maya", "count": 3, "type": "message", "x": None},
    "source": {"id": "abc", "user": {"username": "ana.ruiz", "id": "u-1"}},
    "target": "",
}

MATCHES = [
    ("topic=ftrack.action.launch", True),
    ("topic=ftrack.update", False),
    ("topic=ftrack.*", True),
    ("topic=action.*", True),  # containment, as the official client tests it
    ("topic=nope.*", False),
    ("TOPIC=ftrack.action.launch", False),  # field names are case-sensitive
    ("topic=ftrack.action.launch and data.actionIdentifier=open-maya", True),
    ("topic=ftrack.action.launch AND data.actionIdentifier=other", False),
    ("topic=ftrack.update or topic=ftrack.action.launch", True),
    ("topic=ftrack.update Or topic=x", False),
    ("not topic=ftrack.update", True),
    ("not topic=ftrack.action.launch", False),
    ("not not topic=ftrack.action.launch", True),
    ('source.user.username="ana.ruiz"', True),
    ("source.user.username='ana.ruiz'", True),
    ("source.user.username!=bob", True),
    ("data.missing!=bob", False),  # a missing key fails, even for !=
    ("data.count=3", False),  # values are strings; the number 3 never equals "3"
    ("data.count>2", False),  # cannot compare a number with a string: no match, no error
    ("data.type>=message", True),
    ("data.type<z", True),
    ("data.x=None", False),
    ("topic.deeper=x", False),  # indexing a string fails the condition
    ("(topic=a or topic=ftrack.action.launch) and not source.user.username=bob", True),
    ("topic=a or topic=b and topic=ftrack.action.launch", False),  # and binds tighter
    ("topic=ftrack.action.launch or topic=b and topic=c", True),
    ("topic=and or topic=ftrack.action.launch", True),  # keywords are values after '='
    ('data.actionIdentifier="open maya" or data.type=message', True),
]


@pytest.mark.parametrize(("text", "expected"), MATCHES, ids=[m[0] for m in MATCHES])
def test_expression_matches_like_the_official_client(text: str, expected: bool) -> None:
    assert parse_expression(text).match(EVENT) is expected


@pytest.mark.parametrize("text", ["", "   "], ids=["empty", "blank"])
def test_empty_expression_matches_everything(text: str) -> None:
    assert parse_expression(text).match({}) is True


BAD = ["topic", "topic=", "(topic=a", "topic=a and", "topic=$x", "and topic=a", "topic==a", "()"]


@pytest.mark.parametrize("text", BAD, ids=BAD)
def test_malformed_expression_names_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="cannot parse expression"):
        parse_expression(text)


def test_non_string_expression_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_expression(3)


def test_target_expression_matches_subscriber_metadata() -> None:
    target = parse_expression('applicationId=ftrack.client.web and user.id="u-1"')

    assert target.match({"id": "s", "applicationId": "ftrack.client.web", "user": {"id": "u-1"}})
    assert not target.match({"id": "s", "applicationId": "ftrack.client.web"})


def test_parsing_the_same_text_twice_reuses_the_tree() -> None:
    assert parse_expression("topic=a and data.b=c") is parse_expression("topic=a and data.b=c")
