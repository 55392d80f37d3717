"""Random and mutated query strings never make the server fail: each gets an answer or an
error in the wire shape, never a 500, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerProcess
from tests.integration.conftest import STRICT, query_op

CORPUS = [
    'select name, parent.name, status.state.short from Task where project.full_name is "X"',
    'Task where ancestors any (name is "sq010") order by parent.name desc, name offset 0 limit 5',
    "select id from Note where in_reply_to_id in (select id from Note where author.username is a)",
    'Shot where custom_attributes any (key is "fstart" and value >= 1001) and not timelogs any ()',
    "select count(id) from Task group by status_id",
    "select link, thumbnail_url, ancestors.name from Shot where id in (a,b,c) limit 2",
    'select from.id, from.name from TypedContextLink where to.name like "%comp%"',
    'select value from Setting where name is "storage_scenario" and group is "STORAGE" limit 2',
    "AssetVersion where asset has (name is_not None) and version > 2 and date after 2024-01-01",
]
TOKENS = [
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "(",
    ")",
    ",",
    ".",
    "is",
    "is_not",
    "in",
    "not_in",
    "like",
    "has",
    "any",
    "order by",
    "group by",
    "limit",
    "offset",
    "desc",
    '"',
    "'",
    "None",
    "0",
    "-1",
    "99999999999999999999",
    "name",
    "parent",
    "Task",
    "\\",
    "\n",
    "count(id)",
    "=",
    "!=",
    ">=",
    "%",
    "ancestors",
    "custom_attributes",
    "value",
]


def answer_is_clean(server: ServerProcess, expression: str) -> None:
    response = server.call([query_op(expression)], **STRICT)
    assert response.status_code < 500, (expression, response.text)
    body: Any = response.json()
    if response.status_code != 200:
        assert set(body) >= {"exception", "content", "error_code"}
        assert body["exception"] != "ServerError", (expression, body)
        assert "Traceback" not in body["content"]
        assert "{" not in body["content"] and "}" not in body["content"]


EDGE_CASES = [
    "AssetVersion where version is 99999999999999999999",
    "Task offset 99999999999999999999",
    "Task limit 99999999999999999999",
    "Task where bid > 1e999",
    "Task where id in ()",
    'Task where name like ""',
    "select count(nope) from Task",
    "select name from Task where status is None",
]


@pytest.mark.parametrize("expression", EDGE_CASES)
def test_edge_case_gets_an_answer_or_a_clean_error(server: ServerProcess, expression: str) -> None:
    answer_is_clean(server, expression)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        token = draw(st.sampled_from(TOKENS))
        end = min(len(text), position + draw(st.integers(1, 8)))
        if action == "insert":
            text = f"{text[:position]} {token} {text[position:]}"
        elif action == "delete":
            text = text[:position] + text[end:]
        else:
            text = f"{text[:position]}{token}{text[end:]}"
    return text


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(expression=mutated())
def test_mutated_queries_get_an_answer_or_a_clean_error(
    server: ServerProcess, expression: str
) -> None:
    answer_is_clean(server, expression)


@FUZZ
@given(expression=st.text(max_size=80))
def test_random_text_gets_a_clean_error(server: ServerProcess, expression: str) -> None:
    answer_is_clean(server, expression)


@FUZZ
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=16))
def test_token_soup_gets_an_answer_or_a_clean_error(
    server: ServerProcess, tokens: list[str]
) -> None:
    answer_is_clean(server, " ".join(tokens))
