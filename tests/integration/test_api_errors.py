"""Bad input to ``/api`` gets a clear error in the ftrack wire shape, never a 500 or a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ftrack_api.exception
import httpx
import pytest

from tests.compat.conftest import official_session
from tests.conftest import ServerProcess
from tests.integration.conftest import (
    STRICT,
    create_op,
    delete_op,
    new_project,
    new_task,
    project_data,
    query_op,
    ref,
    run,
    update_op,
)

ERROR_KEYS = {"exception", "content", "error_code"}
MISSING_ID = "0badc0de-0000-4000-8000-000000000000"  # never created


@dataclass
class BadRequest:
    """One bad request: a JSON batch or a raw body, sent with some credential headers."""

    operations: Any = None
    raw: bytes | None = None
    credentials: dict[str, str] | None = None  # None sends the admin's credentials

    def send(self, server: ServerProcess, **headers: str) -> httpx.Response:
        sent = dict(headers)
        if self.credentials is None:
            sent.update({"ftrack-user": server.api_user, "ftrack-api-key": server.api_key})
        else:
            sent.update(self.credentials)
        if self.raw is not None:
            sent["content-type"] = "application/json"
            return httpx.post(f"{server.url}/api", content=self.raw, headers=sent, timeout=60)
        return httpx.post(f"{server.url}/api", json=self.operations, headers=sent, timeout=60)


@dataclass
class Case:
    """A bad request (built against the running server) and the error it must get."""

    id: str
    build: Callable[[ServerProcess], BadRequest]
    status: int
    exception: str | None = None
    content: str | None = None
    content_has: tuple[str, ...] = ()
    content_matches: str | None = None


def batch(*operations: Any) -> Callable[[ServerProcess], BadRequest]:
    return lambda server: BadRequest(list(operations))


def task_in_new_project(**data: Any) -> Callable[[ServerProcess], BadRequest]:
    def build(server: ServerProcess) -> BadRequest:
        parent = ref("Project", new_project(server))
        return BadRequest([create_op("Task", {"name": "task", "parent": parent, **data})])

    return build


def duplicate_project(server: ServerProcess) -> BadRequest:
    data = project_data(server)
    run(server, create_op("Project", data))
    return BadRequest([create_op("Project", data)])


def project_without_schema(server: ServerProcess) -> BadRequest:
    data = project_data(server)
    del data["project_schema_id"]
    return BadRequest([create_op("Project", data)])


def existing_task_update(server: ServerProcess) -> BadRequest:
    task_id = new_task(server, new_project(server))
    return BadRequest([update_op("Task", task_id, {"bid": "lots"})])


CASES = [
    Case("malformed-json", lambda s: BadRequest(raw=b'[{"action": '), 400, content_has=("JSON",)),
    Case("empty-body", lambda s: BadRequest(raw=b""), 400, content_has=("JSON",)),
    Case(
        "body-is-object",
        lambda s: BadRequest({"action": "query_server_information"}),
        400,
        content_has=("array",),
    ),
    Case("operation-is-not-object", batch(["query"]), 400, content_has=("action",)),
    Case("operation-without-action", batch({"expression": "Task"}), 400, content_has=("action",)),
    Case(
        "unknown-action",
        batch({"action": "frobnicate"}),
        400,
        content="Invalid action u'frobnicate'",
    ),
    Case(
        "unknown-entity-type-on-create",
        batch(create_op("Shott", {"name": "sh010"})),
        400,
        content_has=("'Shott'", "'Shot'"),
    ),
    Case(
        "unknown-entity-type-in-query",
        batch(query_op("select id from Shott")),
        400,
        content_has=("'Shott'", "'Shot'"),
    ),
    Case(
        "create-without-entity-data",
        batch({"action": "create", "entity_type": "Task"}),
        400,
        content_has=("entity_data",),
    ),
    Case(
        "unknown-attribute-on-create",
        task_in_new_project(nmae="layout"),
        400,
        content_has=("'nmae'", "'name'"),
    ),
    Case(
        "wrong-value-type-on-create",
        task_in_new_project(bid="lots"),
        400,
        exception="ValidationError",
        content_has=("bid", "lots"),
    ),
    Case(
        "wrong-value-type-on-update",
        existing_task_update,
        400,
        exception="ValidationError",
        content_has=("bid", "lots"),
    ),
    Case(
        "bad-datetime-value",
        task_in_new_project(start_date={"__type__": "datetime", "value": "soon"}),
        400,
        exception="ValidationError",
        content_has=("start_date",),
    ),
    Case(
        "reference-that-is-not-an-object",
        task_in_new_project(status="Not started"),
        400,
        content_has=("status",),
    ),
    Case(
        "missing-required-attribute",
        project_without_schema,
        400,
        content_has=("'project_schema_id'",),
    ),
    Case("duplicate-primary-key", duplicate_project, 409, exception="DuplicateEntryError"),
    Case(
        "update-of-missing-id",
        batch(update_op("Task", MISSING_ID, {"name": "x"})),
        404,
        content_has=("Task", MISSING_ID),
    ),
    Case(
        "delete-of-missing-id",
        batch(delete_op("Task", MISSING_ID)),
        404,
        content_has=("Task", MISSING_ID),
    ),
    Case(
        "create-with-missing-status-reference",
        task_in_new_project(status=ref("Status", MISSING_ID)),
        404,
        content_has=("Status", MISSING_ID),
    ),
    Case(
        "create-with-missing-parent-reference",
        batch(create_op("Task", {"name": "task", "parent": ref("Project", MISSING_ID)})),
        404,
        content_has=(MISSING_ID,),
    ),
    Case(
        "create-with-missing-parent-id",
        batch(create_op("Task", {"name": "task", "parent_id": MISSING_ID})),
        404,
        content_has=(MISSING_ID,),
    ),
    Case(
        "wrong-api-key",
        lambda s: BadRequest([], credentials={"ftrack-user": s.api_user, "ftrack-api-key": "x"}),
        401,
        exception="InvalidCredentialsError",
    ),
    Case(
        "unknown-user",
        lambda s: BadRequest([], credentials={"ftrack-user": "x", "ftrack-api-key": s.api_key}),
        401,
        exception="InvalidCredentialsError",
    ),
    Case(
        "missing-credential-headers",
        lambda s: BadRequest([{"action": "query_server_information"}], credentials={}),
        401,
        exception="InvalidCredentialsError",
    ),
    Case(
        "missing-api-key-header",
        lambda s: BadRequest([{"action": "query_schemas"}], credentials={"ftrack-user": "admin"}),
        401,
        exception="InvalidCredentialsError",
    ),
    Case(
        "malformed-query",
        batch(query_op('select id, name from Project wher name is "x"')),
        400,
        content_matches=r"expected .* at line 1, column 30",
    ),
    Case(
        "malformed-query-with-braces",
        batch(query_op('select id from Task where name is "{x}" and')),
        400,
        content_matches=r"expected .* at line 1, column \d+",
    ),
    Case(
        "query-on-unknown-attribute-in-projection",
        batch(query_op("select nmae from Project")),
        400,
        content_has=("'nmae'", "'name'"),
    ),
    Case(
        "query-on-unknown-attribute-in-filter",
        batch(query_op('Project where nmae is "x"')),
        400,
        content_has=("'nmae'", "'name'"),
    ),
    Case(
        "unknown-attribute-with-braces",
        task_in_new_project(**{"nm{a}e": "x"}),
        400,
        content_has=("nm",),
    ),
]
NAMED_CASES = [case for case in CASES if case.exception is not None]
EXPLAINED_CASES = [
    case for case in CASES if case.content or case.content_has or case.content_matches
]


def cases(selected: list[Case]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("case", selected, ids=[case.id for case in selected])


def error_body(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, dict), response.text
    return body


@cases(CASES)
def test_strict_mode_answers_with_the_expected_status(server: ServerProcess, case: Case) -> None:
    response = case.build(server).send(server, **STRICT)
    assert response.status_code == case.status, response.text


@cases(CASES)
def test_default_mode_answers_200_with_the_error_object(server: ServerProcess, case: Case) -> None:
    response = case.build(server).send(server)
    assert response.status_code == 200, response.text
    assert "exception" in error_body(response)


@cases(CASES)
def test_error_body_has_the_wire_shape(server: ServerProcess, case: Case) -> None:
    body = error_body(case.build(server).send(server, **STRICT))
    assert ERROR_KEYS <= set(body)
    assert isinstance(body["exception"], str) and body["exception"]
    assert isinstance(body["content"], str) and body["content"]


@cases(NAMED_CASES)
def test_error_names_the_expected_exception(server: ServerProcess, case: Case) -> None:
    assert error_body(case.build(server).send(server, **STRICT))["exception"] == case.exception


@cases(EXPLAINED_CASES)
def test_error_content_explains_the_problem(server: ServerProcess, case: Case) -> None:
    content = error_body(case.build(server).send(server, **STRICT))["content"]
    if case.content is not None:
        assert content == case.content
    for fragment in case.content_has:
        assert fragment in content
    if case.content_matches is not None:
        assert re.search(case.content_matches, content), content


@cases(CASES)
def test_error_content_has_no_braces(server: ServerProcess, case: Case) -> None:
    content = error_body(case.build(server).send(server, **STRICT))["content"]
    assert "{" not in content and "}" not in content


@cases(CASES)
def test_error_body_has_no_traceback(server: ServerProcess, case: Case) -> None:
    text = case.build(server).send(server, **STRICT).text
    assert "Traceback" not in text and 'File "' not in text


@cases(CASES)
def test_error_is_json_content_type(server: ServerProcess, case: Case) -> None:
    response = case.build(server).send(server, **STRICT)
    assert response.headers["content-type"].startswith("application/json")
    json.loads(response.text)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api", 405), ("PUT", "/api", 405), ("GET", "/nope", 404), ("POST", "/nope", 404)],
    ids=["get-api", "put-api", "get-unknown-path", "post-unknown-path"],
)
def test_other_routes_answer_a_json_error(
    server: ServerProcess, method: str, path: str, status: int
) -> None:
    credentials = {"ftrack-user": server.api_user, "ftrack-api-key": server.api_key}
    response = httpx.request(method, f"{server.url}{path}", headers=credentials, timeout=60)
    assert response.status_code == status
    assert ERROR_KEYS <= set(error_body(response))


def test_failed_batch_returns_no_partial_results(server: ServerProcess) -> None:
    operations = [{"action": "query_server_information"}, {"action": "frobnicate"}]
    body = server.call(operations).json()
    assert isinstance(body, dict) and body["exception"]


def test_official_client_formats_an_error_whose_query_had_braces(server: ServerProcess) -> None:
    with official_session(server) as session:
        with pytest.raises(ftrack_api.exception.ServerError) as raised:
            session.query('select id from Task where name is "{x}" and').all()
    assert "line 1" in str(raised.value)
