"""Rebuild the exception class of a server error from the ``error_code`` it carries."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from shotbase.errors import ServerError, ShotbaseError

__all__ = ["error_from_body", "is_error_body"]


@functools.cache
def _classes_by_code() -> dict[str, type[ShotbaseError]]:
    found: dict[str, type[ShotbaseError]] = {}
    pending: list[type[ShotbaseError]] = [ShotbaseError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def is_error_body(body: Any) -> bool:
    """True when an ``/api`` answer is an error object rather than a list of results."""
    return isinstance(body, dict) and "exception" in body


def error_from_body(body: Mapping[str, Any]) -> ShotbaseError:
    """The exception matching an error object ``{"exception", "content", "error_code"}``.

    The class is found by ``error_code`` (``ServerError`` when the code is unknown or absent);
    the message is the server's ``content``. Structured fields of the class (such as
    ``entity_type``) are not sent by the server and are absent from the rebuilt error;
    ``exception_name`` holds the server's ``exception`` value.
    """
    code = body.get("error_code")
    cls = _classes_by_code().get(code, ServerError) if isinstance(code, str) else ServerError
    message = str(body.get("content", ""))
    error = cls.__new__(cls)
    ShotbaseError.__init__(error, message)
    error.exception_name = str(body.get("exception", ""))  # type: ignore[attr-defined]
    return error
