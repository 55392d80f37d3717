"""Rendering errors in the ftrack /api shape."""

from __future__ import annotations

import pytest

from shotbase.errors import (
    AuthenticationError,
    EntityNotFoundError,
    QuerySyntaxError,
    ShotbaseError,
    UnknownActionError,
    ValidationError,
)
from shotbase.server.errors import render_error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (AuthenticationError("bad key"), 401),
        (EntityNotFoundError("Shot", ["sh1"]), 404),
        (UnknownActionError("frobnicate"), 400),
        (ShotbaseError("broken"), 500),
    ],
    ids=["authentication", "not-found", "unknown-action", "root"],
)
def test_strict_mode_answers_the_error_status(error: ShotbaseError, status: int) -> None:
    assert render_error(error, strict=True)[0] == status


@pytest.mark.parametrize(
    "error",
    [AuthenticationError("bad key"), ShotbaseError("broken"), RuntimeError("boom")],
    ids=["client-error", "server-error", "foreign"],
)
def test_non_strict_mode_answers_200(error: BaseException) -> None:
    assert render_error(error, strict=False)[0] == 200


def test_body_carries_wire_name_message_and_code() -> None:
    error = UnknownActionError("frobnicate")

    _, body = render_error(error, strict=False)

    assert body == {
        "exception": "ValueError",
        "content": "Invalid action u'frobnicate'",
        "error_code": "request.unknown_action",
    }


def test_braces_in_content_are_replaced() -> None:
    error = ValidationError("Shot.name expects a string, got {'a': 1}.")

    _, body = render_error(error, strict=True)

    assert body["content"] == "Shot.name expects a string, got ('a': 1)."
    assert "{" not in body["content"] and "}" not in body["content"]
    assert body["content"].format() == body["content"]


def test_multiline_query_error_keeps_its_caret() -> None:
    error = QuerySyntaxError("'where'", 'Shot wher name is "sh010"', 1, 6)

    _, body = render_error(error, strict=True)

    assert body["content"].endswith('\n  Shot wher name is "sh010"\n       ^')


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "non-strict"])
def test_foreign_exception_renders_a_generic_server_error(strict: bool) -> None:
    try:
        raise KeyError("secret-column-name")
    except KeyError as exc:
        status, body = render_error(exc, strict=strict)

    assert status == (500 if strict else 200)
    assert body["exception"] == "ServerError"
    assert body["error_code"] == "server.internal"
    assert "secret-column-name" not in body["content"]
    assert "KeyError" not in body["content"]
    assert "Traceback" not in body["content"]
    assert set(body) == {"exception", "content", "error_code"}


def test_foreign_exception_is_logged_with_a_reference(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise KeyError("secret-column-name")
    except KeyError as exc:
        _, body = render_error(exc, strict=True)

    [record] = [r for r in caplog.records if r.name == "shotbase.server.errors"]
    reference = record.getMessage().rsplit(" ", 1)[-1]
    assert reference in body["content"]
    assert record.exc_info is not None
