"""Converting values between wire form, query literals and column values."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from shotbase.errors import ValidationError
from shotbase.schema import Attribute, AttributeKind, DataType
from shotbase.schema.values import coerce_literal, coerce_value, encode_value, parse_datetime


def scalar(name: str, data_type: DataType) -> Attribute:
    return Attribute(name, AttributeKind.SCALAR, data_type)


NAME = scalar("name", DataType.STRING)
SIZE = scalar("size", DataType.INTEGER)
BID = scalar("bid", DataType.NUMBER)
IS_PUBLISHED = scalar("is_published", DataType.BOOLEAN)
CREATED_AT = scalar("created_at", DataType.DATETIME)
VALUE = scalar("value", DataType.VARIABLE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T09:30:00", dt.datetime(2024, 3, 1, 9, 30)),
        ("2024-03-01T09:30:00Z", dt.datetime(2024, 3, 1, 9, 30)),
        ("2024-03-01T08:30:00.000Z", dt.datetime(2024, 3, 1, 8, 30)),
        ("2024-03-01T09:30:00+02:00", dt.datetime(2024, 3, 1, 7, 30)),
        ("2024-03-01T00:30:00-01:00", dt.datetime(2024, 3, 1, 1, 30)),
        ("2024-03-01T23:30:00-01:00", dt.datetime(2024, 3, 2, 0, 30)),
        ("2024-03-01T09:30:00.999999", dt.datetime(2024, 3, 1, 9, 30)),
        ("2024-03-01 09:30:00", dt.datetime(2024, 3, 1, 9, 30)),
        ("2018-05-25", dt.datetime(2018, 5, 25)),
    ],
    ids=[
        "naive",
        "z",
        "milliseconds-z",
        "positive-offset",
        "negative-offset",
        "offset-crossing-midnight",
        "microseconds-dropped",
        "space-separator",
        "bare-date",
    ],
)
def test_parse_datetime_returns_naive_utc_whole_seconds(text: str, expected: dt.datetime) -> None:
    parsed = parse_datetime(text)

    assert parsed == expected
    assert parsed.tzinfo is None


@pytest.mark.parametrize("text", ["", "yesterday", "2024-13-01", "12:00"])
def test_parse_datetime_rejects_non_iso_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        (NAME, "sh010", "sh010"),
        (SIZE, 7, 7),
        (SIZE, 7.0, 7),
        (BID, 3, 3.0),
        (BID, 2.5, 2.5),
        (IS_PUBLISHED, False, False),
        (CREATED_AT, "2024-03-01T09:30:00Z", dt.datetime(2024, 3, 1, 9, 30)),
        (
            CREATED_AT,
            {"__type__": "datetime", "value": "2024-03-01T09:30:00+01:00"},
            dt.datetime(2024, 3, 1, 8, 30),
        ),
        (VALUE, {"any": ["json"]}, {"any": ["json"]}),
        (
            VALUE,
            {"__type__": "datetime", "value": "2024-03-01T09:30:00.5Z"},
            {"__type__": "datetime", "value": "2024-03-01T09:30:00"},
        ),
        (NAME, None, None),
        (SIZE, None, None),
    ],
    ids=[
        "string",
        "integer",
        "whole-float-as-integer",
        "integer-as-number",
        "number",
        "boolean",
        "datetime-text",
        "datetime-object",
        "variable-json",
        "variable-datetime",
        "null-string",
        "null-integer",
    ],
)
def test_coerce_value_accepts_fitting_values(
    attribute: Attribute, value: Any, expected: Any
) -> None:
    coerced = coerce_value("Task", attribute, value)

    assert coerced == expected
    assert type(coerced) is type(expected)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        (NAME, 5),
        (SIZE, True),
        (SIZE, False),
        (SIZE, 2.5),
        (SIZE, "5"),
        (BID, True),
        (BID, float("nan")),
        (BID, float("inf")),
        (BID, "2.5"),
        (IS_PUBLISHED, 1),
        (IS_PUBLISHED, "true"),
        (CREATED_AT, 12),
        (CREATED_AT, "not a date"),
        (CREATED_AT, {"__type__": "datetime", "value": 12}),
    ],
    ids=[
        "integer-for-string",
        "true-for-integer",
        "false-for-integer",
        "fraction-for-integer",
        "text-for-integer",
        "boolean-for-number",
        "nan-for-number",
        "infinity-for-number",
        "text-for-number",
        "integer-for-boolean",
        "text-for-boolean",
        "integer-for-datetime",
        "text-for-datetime",
        "bad-datetime-object",
    ],
)
def test_coerce_value_rejects_wrong_types_naming_the_attribute(
    attribute: Attribute, value: Any
) -> None:
    with pytest.raises(ValidationError, match=rf"^Task\.{attribute.name} expects "):
        coerce_value("Task", attribute, value)


@pytest.mark.parametrize(
    ("attribute", "text", "quoted", "expected"),
    [
        (NAME, "None", False, None),
        (NAME, "none", False, None),
        (NAME, "null", False, None),
        (NAME, "NULL", False, None),
        (SIZE, "None", False, None),
        (NAME, "None", True, "None"),
        (NAME, "null", True, "null"),
        (NAME, "NOT_STARTED", False, "NOT_STARTED"),
        (SIZE, "5", False, 5),
        (SIZE, "5", True, 5),
        (SIZE, "-12", False, -12),
        (BID, "14400", False, 14400.0),
        (BID, "2.5", False, 2.5),
        (IS_PUBLISHED, "True", False, True),
        (IS_PUBLISHED, "true", False, True),
        (IS_PUBLISHED, "1", False, True),
        (IS_PUBLISHED, "False", False, False),
        (IS_PUBLISHED, "0", False, False),
        (CREATED_AT, "2024-03-01T00:00:00+00:00", True, dt.datetime(2024, 3, 1)),
        (CREATED_AT, "2024-03-01T08:30:00.000Z", True, dt.datetime(2024, 3, 1, 8, 30)),
        (CREATED_AT, "2015-06-01", True, dt.datetime(2015, 6, 1)),
    ],
    ids=[
        "bare-none-is-null",
        "lower-case-none-is-null",
        "bare-null-is-null",
        "upper-case-null-is-null",
        "bare-none-is-null-for-integer",
        "quoted-none-is-a-string",
        "quoted-null-is-a-string",
        "bare-word-is-a-string",
        "integer",
        "quoted-integer",
        "negative-integer",
        "integer-text-for-number",
        "decimal-for-number",
        "python-true",
        "js-true",
        "one-is-true",
        "python-false",
        "zero-is-false",
        "python-str-of-arrow",
        "js-iso-z",
        "bare-date",
    ],
)
def test_coerce_literal_reads_the_attribute_type(
    attribute: Attribute, text: str, quoted: bool, expected: Any
) -> None:
    coerced = coerce_literal("Task", attribute, text, quoted)

    assert coerced == expected
    assert type(coerced) is type(expected)


@pytest.mark.parametrize(
    ("attribute", "text"),
    [
        (SIZE, "True"),
        (SIZE, "2.5"),
        (SIZE, "five"),
        (BID, "False"),
        (BID, "a lot"),
        (BID, "nan"),
        (BID, "inf"),
        (BID, "-Infinity"),
        (IS_PUBLISHED, "yes"),
        (CREATED_AT, "yesterday"),
    ],
    ids=[
        "boolean-for-integer",
        "fraction-for-integer",
        "word-for-integer",
        "boolean-for-number",
        "words-for-number",
        "nan-for-number",
        "infinity-for-number",
        "negative-infinity-for-number",
        "yes-for-boolean",
        "word-for-datetime",
    ],
)
def test_coerce_literal_rejects_unreadable_text_naming_the_attribute(
    attribute: Attribute, text: str
) -> None:
    with pytest.raises(ValidationError, match=rf"^Task\.{attribute.name} expects .*{text!r}"):
        coerce_literal("Task", attribute, text, False)


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        (
            CREATED_AT,
            dt.datetime(2022, 10, 10, 10, 12, 9, 123456),
            {"__type__": "datetime", "value": "2022-10-10T10:12:09"},
        ),
        (BID, 3, 3.0),
        (SIZE, 3, 3),
        (NAME, "sh010", "sh010"),
        (NAME, None, None),
    ],
    ids=["datetime-naive-seconds", "number-as-float", "integer", "string", "null"],
)
def test_encode_value_renders_the_wire_form(
    attribute: Attribute, value: Any, expected: Any
) -> None:
    encoded = encode_value(attribute, value)

    assert encoded == expected
    assert type(encoded) is type(expected)
