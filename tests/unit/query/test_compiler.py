"""The SQL shapes the compiler chooses, checked on the statements themselves (no database)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from shotbase.errors import QueryError
from shotbase.query.compiler import QueryCompiler
from shotbase.query.parser import parse
from shotbase.schema import load_builtin_schema
from shotbase.store import build_tables

DIALECTS = {
    "sqlite": sa.create_engine("sqlite://").dialect,
    "postgresql": sa.create_engine("postgresql+psycopg://").dialect,
}


@pytest.fixture(scope="module")
def compiler() -> QueryCompiler:
    return QueryCompiler(build_tables(load_builtin_schema()))


def sql(compiler: QueryCompiler, expression: str, dialect: str = "postgresql") -> str:
    statement = compiler.compile(parse(expression), page_size=1000).statement
    return str(statement.compile(dialect=DIALECTS[dialect]))


def selected(compiler: QueryCompiler, expression: str) -> list[str]:
    statement: Any = compiler.compile(parse(expression), page_size=1000).statement
    return [column.name for column in statement.selected_columns]


def test_root_select_reads_only_what_the_answer_needs(compiler: QueryCompiler) -> None:
    assert selected(compiler, "select name from Task") == [
        "id",
        "_type",
        "project_id",
        "context_type",
        "object_type_id",
        "name",
    ]


def test_computed_projection_reads_the_columns_its_rule_needs(compiler: QueryCompiler) -> None:
    columns = selected(compiler, "select bid_time_logged_difference from Task")
    assert {"id", "bid"} <= set(columns)
    assert "created_at" not in columns


def test_projected_reference_is_joined_to_the_root_statement(compiler: QueryCompiler) -> None:
    text = sql(compiler, "select name, parent.name, status.name from Task limit 10")
    assert text.count("LEFT OUTER JOIN") == 2
    columns = selected(compiler, "select name, parent.name, status.name from Task limit 10")
    assert "_joined_0_name" in columns
    assert "_joined_1_name" in columns


def test_projected_collection_is_not_joined(compiler: QueryCompiler) -> None:
    assert "JOIN" not in sql(compiler, "select assignments.resource_id from Task")


def test_top_level_reference_filter_finds_the_matches_first(compiler: QueryCompiler) -> None:
    text = sql(compiler, 'select id from Task where project.full_name is "X" and name is "a"')
    assert "context.project_id IN (SELECT" in text
    # The sub-query is fenced so that PostgreSQL keeps its own row estimate.
    assert "OFFSET" in text.split("context.project_id IN", 1)[1]
    assert "EXISTS" not in text


@pytest.mark.parametrize(
    "condition",
    ['not project.full_name is "X"', 'project.full_name is "X" or name is "a"'],
    ids=["not", "or"],
)
def test_reference_filter_under_not_or_or_stays_exists(
    compiler: QueryCompiler, condition: str
) -> None:
    text = sql(compiler, f"select id from Task where {condition}")
    assert "EXISTS" in text
    assert "project_id IN" not in text


def test_order_by_through_references_joins_them_once(compiler: QueryCompiler) -> None:
    text = sql(
        compiler,
        "select name, parent.name from Task order by parent.parent.name desc, parent.name",
    )
    assert text.count("LEFT OUTER JOIN") == 2
    assert "ORDER BY context_2.name DESC, context_1.name ASC" in text


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_value_is_a_bound_parameter(compiler: QueryCompiler, dialect: str) -> None:
    text = sql(
        compiler,
        'select name from Shot where custom_attributes any (key is "fstart" and value > 1090) '
        'and time_logged > 7 and parent.name like "sq%" order by parent.name',
        dialect,
    )
    for value in ("fstart", "1090", "sq%", "'7'", " 7 "):
        assert value not in text


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_custom_attribute_filter_also_reads_configuration_defaults(
    compiler: QueryCompiler, dialect: str
) -> None:
    text = sql(
        compiler,
        'select name from Shot where custom_attributes any (key is "fstart" and value is 1001)',
        dialect,
    )
    assert "custom_configuration_base" in text
    assert ("json_typeof" if dialect == "postgresql" else "json_type") in text


def test_time_logged_filter_sums_timelogs(compiler: QueryCompiler) -> None:
    text = sql(compiler, "select name from Task where time_logged > 3600")
    assert "sum(timelog_1.duration)" in text


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_is_open_filter_binds_now_and_the_boolean(compiler: QueryCompiler, dialect: str) -> None:
    text = sql(compiler, "select id from ReviewSession where is_open is true", dialect)
    assert "review_session.end_date IS NULL OR review_session.end_date >" in text
    for constant in ("true", "= 1"):
        assert constant not in text.lower()


def test_is_open_reads_the_clock_when_the_statement_runs(compiler: QueryCompiler) -> None:
    # Compiled statements are cached: "now" must not be frozen into one when it is built.
    statement = compiler.compile(parse("select id from ReviewSession where is_open is false"))
    compiled = statement.statement.compile()
    clocks = [name for bind, name in compiled.bind_names.items() if bind.callable is not None]
    assert len(clocks) == 1
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs(compiled.params[clocks[0]] - now) < dt.timedelta(seconds=5)


def test_thumbnail_id_filter_reads_the_first_object_with_a_thumbnail(
    compiler: QueryCompiler,
) -> None:
    text = sql(compiler, 'select id from ReviewSession where thumbnail_id is "x"')
    assert "review_session_object_1.review_session_id = review_session.id" in text
    assert "asset_version_1.thumbnail_id IS NOT NULL" in text
    assert "ORDER BY review_session_object_1.sort_order ASC NULLS LAST" in text
    assert "'x'" not in text


def test_review_session_thumbnail_is_not_joined(compiler: QueryCompiler) -> None:
    assert "JOIN component" not in sql(compiler, "select thumbnail.name from ReviewSession")


@pytest.mark.parametrize(
    "expression, message",
    [
        ('select id from Task where link is "x"', "Task.link is computed for each answer"),
        ("select id from Task order by thumbnail_url", "Task.thumbnail_url is computed"),
        ("select sum(link) from Task group by parent_id", "Task.link is computed"),
        (
            "select id from Task order by custom_attribute_links.id",
            "It can only be used in a filter",
        ),
        (
            "select id from ReviewSession order by thumbnail_url",
            "ReviewSession.thumbnail_url is computed for each answer",
        ),
    ],
    ids=["link-filter", "thumbnail-order", "link-aggregate", "links-order", "review-thumbnail-url"],
)
def test_unusable_attribute_is_named_in_the_error(
    compiler: QueryCompiler, expression: str, message: str
) -> None:
    query = parse(expression)
    with pytest.raises(QueryError, match=message):
        if query.group_by:
            compiler.compile_aggregate(query)
        else:
            compiler.compile(query)


def test_custom_attribute_links_filter_joins_the_link_from_the_owner(
    compiler: QueryCompiler,
) -> None:
    text = sql(
        compiler,
        'select id from Task where custom_attribute_links any (user.username is "ana")',
    )
    assert "custom_attribute_link_1.from_id" in text
    assert "resource" in text


def test_compiled_statement_is_cached_by_query(compiler: QueryCompiler) -> None:
    query = parse('select name from Task where name is "a"')
    assert compiler.compile(query) is compiler.compile(query)


def test_aggregate_statement_compiles_without_joins(compiler: QueryCompiler) -> None:
    statement, keys = compiler.compile_aggregate(
        parse("select count(id), sum(time_logged) from Task group by parent_id")
    )
    assert keys == ["count_id", "sum_time_logged", "parent_id"]
    assert isinstance(statement, sa.Select)
