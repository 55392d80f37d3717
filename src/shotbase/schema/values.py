"""Convert values between their wire form, query literals and column values."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from shotbase.errors import ValidationError
from shotbase.schema.model import Attribute, DataType

__all__ = ["coerce_literal", "coerce_value", "encode_value", "parse_datetime"]

NULL_WORDS = {"none", "null"}
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
TRUE_WORDS = {"true", "1"}
FALSE_WORDS = {"false", "0"}


def parse_datetime(text: str) -> dt.datetime:
    """Parse ISO 8601 text (date, naive, ``Z`` or offset) into naive UTC, whole seconds.

    Raises:
        ValueError: If the text is not an ISO date or datetime.
    """
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    # Stored at second precision so that ensure() can find what it created (reference 3.4).
    return value.replace(microsecond=0)


def coerce_value(entity_type: str, attribute: Attribute, value: Any) -> Any:
    """Check a wire value against its attribute and return the column value.

    Raises:
        ValidationError: If the value does not fit the attribute's type.
    """
    if value is None:
        return None
    kind = attribute.data_type
    if kind is DataType.STRING and type(value) is str:
        return value
    try:
        if kind is DataType.DATETIME:
            return _datetime(value)
        if kind is DataType.STRING:
            if isinstance(value, str):
                return value
        elif kind is DataType.BOOLEAN:
            if isinstance(value, bool):
                return value
        elif kind is DataType.INTEGER:
            if isinstance(value, int) and not isinstance(value, bool):
                return _in_range(value)
            if isinstance(value, float) and value.is_integer():
                return _in_range(int(value))
        elif kind is DataType.NUMBER:
            if isinstance(value, int | float) and not isinstance(value, bool):
                if math.isfinite(value):
                    return float(value)
        elif kind is DataType.VARIABLE:
            if isinstance(value, dict) and value.get("__type__") in ("datetime", "date"):
                return {"__type__": "datetime", "value": _datetime(value).isoformat()}
            return value
    except ValueError:
        pass
    raise ValidationError(
        f"{entity_type}.{attribute.name} expects {_describe(kind)}, got {_show(value)}."
    )


def coerce_literal(entity_type: str, attribute: Attribute, text: str, quoted: bool) -> Any:
    """Turn a query literal into a value comparable with the attribute's column.

    Raises:
        ValidationError: If the literal cannot be read as the attribute's type.
    """
    if not quoted and text.lower() in NULL_WORDS:
        return None
    kind = attribute.data_type
    lowered = text.lower()
    try:
        if kind is DataType.INTEGER:
            return _in_range(int(_plain_number(text)))
        if kind is DataType.NUMBER:
            number = float(_plain_number(text))
            if not math.isfinite(number):
                raise ValueError(text)
            return number
        if kind is DataType.BOOLEAN:
            if lowered in TRUE_WORDS:
                return True
            if lowered in FALSE_WORDS:
                return False
            raise ValueError(text)
        if kind is DataType.DATETIME:
            return parse_datetime(text)
    except ValueError:
        raise ValidationError(
            f"{entity_type}.{attribute.name} expects {_describe(kind)}, got {text!r}."
        ) from None
    return text


def encode_value(attribute: Attribute, value: Any) -> Any:
    """Render a column value in its wire form."""
    if isinstance(value, dt.datetime):
        return {"__type__": "datetime", "value": value.replace(microsecond=0).isoformat()}
    if attribute.data_type is DataType.NUMBER and isinstance(value, int | float):
        return float(value)
    return value


def _in_range(number: int) -> int:
    """``number`` if a database integer column can hold it, else ValueError."""
    if not INTEGER_MIN <= number <= INTEGER_MAX:
        raise ValueError(number)
    return number


def _plain_number(text: str) -> str:
    """``text`` if it is written as a plain decimal number, else ValueError."""
    if not NUMBER.fullmatch(text):
        raise ValueError(text)
    return text


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dict) and value.get("__type__") in ("datetime", "date"):
        value = value.get("value")
    if isinstance(value, str):
        return parse_datetime(value)
    raise ValueError(value)


def _describe(kind: DataType | None) -> str:
    return (
        {
            DataType.STRING: "a string",
            DataType.INTEGER: "a whole number",
            DataType.NUMBER: "a number",
            DataType.BOOLEAN: "true or false",
            DataType.DATETIME: "a datetime",
        }.get(kind, "a value")
        if kind
        else "a value"
    )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
