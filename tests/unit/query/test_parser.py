"""Parsing query text into the syntax tree, including every shape the official clients send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shotbase.errors import QueryError, QuerySyntaxError
from shotbase.query import parse
from shotbase.query.ast import (
    And,
    Comparison,
    Expression,
    Literal,
    LiteralList,
    Not,
    Or,
    OrderKey,
    Path,
    Projection,
    Query,
    Relational,
    SubQuery,
    Value,
)

UUID = "5671dcb0-66de-11e1-8e6e-f23c91df25eb"
UUID2 = "b9d1f3c2-2f0e-4f7e-9b5a-0c1d2e3f4a5b"
UUID3 = "0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b"


def path(text: str) -> Path:
    return tuple(text.split("."))


def select(
    entity_type: str,
    *projections: str,
    where: Expression | None = None,
    group_by: tuple[Path, ...] = (),
    order_by: tuple[OrderKey, ...] = (),
    offset: int | None = None,
    limit: int | None = None,
) -> Query:
    """A query selecting the dotted ``projections`` from ``entity_type``."""
    selected = tuple(Projection(path(p)) for p in projections)
    return Query(entity_type, selected, where, group_by, order_by, offset, limit)


def bare(text: str) -> Literal:
    return Literal(text, quoted=False)


def quoted(text: str) -> Literal:
    return Literal(text, quoted=True)


def compare(dotted: str, operator: str, value: Value) -> Comparison:
    return Comparison(path(dotted), operator, value)


def both(*items: Expression) -> And:
    return And(items)


# PROTOCOL.md 5.10: the verbatim shapes the official clients generate.
CLIENT_SHAPES = [
    pytest.param(
        'select context_type, id, name from Task where name is "anim"',
        select("Task", "context_type", "id", "name", where=compare("name", "is", quoted("anim"))),
        id="py-query-default-projections",
    ),
    pytest.param(
        "select id from Task order by name offset 0 limit 500",
        select("Task", "id", order_by=(OrderKey(("name",)),), offset=0, limit=500),
        id="py-paging-after-order-by",
    ),
    pytest.param(
        "select id from Task limit 1",
        select("Task", "id", limit=1),
        id="py-first",
    ),
    pytest.param(
        "select id from Task offset 7 limit 1",
        select("Task", "id", offset=7, limit=1),
        id="py-first-with-offset",
    ),
    pytest.param(
        "select id from Task limit 2",
        select("Task", "id", limit=2),
        id="py-one",
    ),
    pytest.param(
        f'select id, name from Task where (id is "{UUID}")',
        select("Task", "id", "name", where=compare("id", "is", quoted(UUID))),
        id="py-get-parenthesised",
    ),
    pytest.param(
        f'select key, value from Metadata where (parent_id is "{UUID}" and key is "fps")',
        select(
            "Metadata",
            "key",
            "value",
            where=both(
                compare("parent_id", "is", quoted(UUID)), compare("key", "is", quoted("fps"))
            ),
        ),
        id="py-get-composite-key",
    ),
    pytest.param(
        f"select name, bid from Task where id is {UUID}",
        select("Task", "name", "bid", where=compare("id", "is", bare(UUID))),
        id="py-populate-unquoted-uuid",
    ),
    pytest.param(
        f"select name from Task where id in ({UUID},{UUID2},{UUID3})",
        select(
            "Task",
            "name",
            where=compare("id", "in", LiteralList((bare(UUID), bare(UUID2), bare(UUID3)))),
        ),
        id="py-populate-in-list-without-spaces",
    ),
    pytest.param(
        'select value from Metadata where (parent_id is "p1"and key is "a") '
        'or (parent_id is "p2"and key is "b")',
        select(
            "Metadata",
            "value",
            where=Or(
                (
                    both(
                        compare("parent_id", "is", quoted("p1")), compare("key", "is", quoted("a"))
                    ),
                    both(
                        compare("parent_id", "is", quoted("p2")), compare("key", "is", quoted("b"))
                    ),
                )
            ),
        ),
        id="py-populate-composite-quote-then-and",
    ),
    pytest.param(
        f"select parent.context_type, parent.id, parent.name from Task where id is {UUID}",
        select(
            "Task",
            "parent.context_type",
            "parent.id",
            "parent.name",
            where=compare("id", "is", bare(UUID)),
        ),
        id="py-lazy-reference",
    ),
    pytest.param(
        f"select from.context_type, from.id, from.name from TypedContextLink where id is {UUID}",
        select(
            "TypedContextLink",
            "from.context_type",
            "from.id",
            "from.name",
            where=compare("id", "is", bare(UUID)),
        ),
        id="py-lazy-reference-through-keyword-from",
    ),
    pytest.param(
        'select id from Timelog where name is "text" and bid is 5 and is_billable is True '
        'and comment is None and start is "2024-03-01T09:30:00" limit 2',
        select(
            "Timelog",
            "id",
            where=both(
                compare("name", "is", quoted("text")),
                compare("bid", "is", bare("5")),
                compare("is_billable", "is", bare("True")),
                compare("comment", "is", bare("None")),
                compare("start", "is", quoted("2024-03-01T09:30:00")),
            ),
            limit=2,
        ),
        id="py-ensure",
    ),
    pytest.param(
        "select key, project_id, id, object_type_id, entity_type, is_hierarchical "
        "from CustomAttributeConfiguration offset 0 limit 500",
        select(
            "CustomAttributeConfiguration",
            "key",
            "project_id",
            "id",
            "object_type_id",
            "entity_type",
            "is_hierarchical",
            offset=0,
            limit=500,
        ),
        id="py-custom-attribute-configurations",
    ),
    pytest.param(
        f"select component_id, resource_identifier from ComponentLocation "
        f"where location_id is {UUID} and component_id in ({UUID2}, {UUID3}) offset 0 limit 500",
        select(
            "ComponentLocation",
            "component_id",
            "resource_identifier",
            where=both(
                compare("location_id", "is", bare(UUID)),
                compare("component_id", "in", LiteralList((bare(UUID2), bare(UUID3)))),
            ),
            offset=0,
            limit=500,
        ),
        id="py-location-lookup-in-list-with-spaces",
    ),
    pytest.param(
        f"select id from ComponentLocation where component_id is {UUID} "
        f"and location_id is {UUID2} offset 0 limit 500",
        select(
            "ComponentLocation",
            "id",
            where=both(
                compare("component_id", "is", bare(UUID)), compare("location_id", "is", bare(UUID2))
            ),
            offset=0,
            limit=500,
        ),
        id="py-location-removal",
    ),
    pytest.param(
        f'select id from Timer where user_id = "{UUID}" limit 2',
        select("Timer", "id", where=compare("user_id", "is", quoted(UUID)), limit=2),
        id="py-stop-timer-equals",
    ),
    pytest.param(
        f"select task_status from SchemaStatus where schema_id is {UUID}",
        select("SchemaStatus", "task_status", where=compare("schema_id", "is", bare(UUID))),
        id="py-project-schema-statuses",
    ),
    pytest.param(
        f"select task_type from SchemaType where schema_id is {UUID}",
        select("SchemaType", "task_type", where=compare("schema_id", "is", bare(UUID))),
        id="py-project-schema-types",
    ),
    pytest.param(
        'select value from Setting where name is "storage_scenario" and group is "STORAGE" limit 2',
        select(
            "Setting",
            "value",
            where=both(
                compare("name", "is", quoted("storage_scenario")),
                compare("group", "is", quoted("STORAGE")),
            ),
            limit=2,
        ),
        id="py-storage-scenario-keyword-group",
    ),
    pytest.param(
        "select id from Location offset 0 limit 500",
        select("Location", "id", offset=0, limit=500),
        id="py-locations",
    ),
    pytest.param(
        'select id, name from Task where name is "text" and bid is 5 '
        "and is_milestone is true and description is null",
        select(
            "Task",
            "id",
            "name",
            where=both(
                compare("name", "is", quoted("text")),
                compare("bid", "is", bare("5")),
                compare("is_milestone", "is", bare("true")),
                compare("description", "is", bare("null")),
            ),
        ),
        id="js-ensure",
    ),
    pytest.param(
        f"select _task_workflow.statuses.name, _task_workflow.statuses.color "
        f"from ProjectSchema where id is {UUID}",
        select(
            "ProjectSchema",
            "_task_workflow.statuses.name",
            "_task_workflow.statuses.color",
            where=compare("id", "is", bare(UUID)),
        ),
        id="js-underscore-attributes",
    ),
    pytest.param(
        "select name from Task limit 1",
        select("Task", "name", limit=1),
        id="js-fixture-limit",
    ),
    pytest.param(
        "select status.state.short from Task where status.state.short is NOT_STARTED limit 2",
        select(
            "Task",
            "status.state.short",
            where=compare("status.state.short", "is", bare("NOT_STARTED")),
            limit=2,
        ),
        id="js-fixture-bare-word",
    ),
    pytest.param(
        "select version, asset.versions.version from AssetVersion "
        "where asset_id is_not None limit 1",
        select(
            "AssetVersion",
            "version",
            "asset.versions.version",
            where=compare("asset_id", "is_not", bare("None")),
            limit=1,
        ),
        id="js-fixture-is-not-none",
    ),
]

# PROTOCOL.md 5.11: the worked examples.
WORKED_EXAMPLES = [
    pytest.param(
        'select name, created_at from Task where project.name is "demo" '
        "order by name offset 0 limit 2",
        select(
            "Task",
            "name",
            "created_at",
            where=compare("project.name", "is", quoted("demo")),
            order_by=(OrderKey(("name",)),),
            offset=0,
            limit=2,
        ),
        id="example-projection-with-paging",
    ),
    pytest.param(
        "select status.name, status.state.short from Task where parent_id is s1 offset 0 limit 500",
        select(
            "Task",
            "status.name",
            "status.state.short",
            where=compare("parent_id", "is", bare("s1")),
            offset=0,
            limit=500,
        ),
        id="example-nested-projection",
    ),
    pytest.param(
        "select name, link from TypedContext where id in (sh1,tk1)",
        select(
            "TypedContext",
            "name",
            "link",
            where=compare("id", "in", LiteralList((bare("sh1"), bare("tk1")))),
        ),
        id="example-polymorphic",
    ),
    pytest.param(
        "select username from User where not timelogs any () "
        'and memberships any (group.name is "Animation")',
        select(
            "User",
            "username",
            where=both(
                Not(Relational(("timelogs",), "any", None)),
                Relational(
                    ("memberships",), "any", compare("group.name", "is", quoted("Animation"))
                ),
            ),
        ),
        id="example-not-any-empty",
    ),
    pytest.param(
        "select custom_attributes from Shot "
        'where custom_attributes any (key is "fstart" and value >= 1001)',
        select(
            "Shot",
            "custom_attributes",
            where=Relational(
                ("custom_attributes",),
                "any",
                both(compare("key", "is", quoted("fstart")), compare("value", ">=", bare("1001"))),
            ),
        ),
        id="example-custom-attributes-any",
    ),
    pytest.param(
        "select id from Note where in_reply_to_id in "
        '(select id from Note where author.username is "john.doe")',
        select(
            "Note",
            "id",
            where=compare(
                "in_reply_to_id",
                "in",
                SubQuery(
                    select("Note", "id", where=compare("author.username", "is", quoted("john.doe")))
                ),
            ),
        ),
        id="example-subquery",
    ),
    pytest.param(
        "select count(id) from Task group by status_id",
        Query("Task", (Projection(("id",), "count"),), group_by=(("status_id",),)),
        id="example-aggregate",
    ),
]

# PROTOCOL.md 5.1-5.3: operators, literals, keywords and layout.
LANGUAGE = [
    pytest.param(
        'Task where name is "anim"',
        Query("Task", where=compare("name", "is", quoted("anim"))),
        id="without-select",
    ),
    pytest.param("Task", Query("Task"), id="type-only"),
    pytest.param(
        "select id from Task where a != 1 and b is_not 2",
        select(
            "Task",
            "id",
            where=both(compare("a", "is_not", bare("1")), compare("b", "is_not", bare("2"))),
        ),
        id="not-equal-synonyms",
    ),
    pytest.param(
        "select id from Task where a > 1 and b after 2 and c greater_than 3",
        select(
            "Task",
            "id",
            where=both(
                compare("a", ">", bare("1")),
                compare("b", ">", bare("2")),
                compare("c", ">", bare("3")),
            ),
        ),
        id="greater-than-synonyms",
    ),
    pytest.param(
        "select id from Task where a < 1 and b before 2 and c less_than 3",
        select(
            "Task",
            "id",
            where=both(
                compare("a", "<", bare("1")),
                compare("b", "<", bare("2")),
                compare("c", "<", bare("3")),
            ),
        ),
        id="less-than-synonyms",
    ),
    pytest.param(
        "select id from Task where bid >= 14400 and bid <= 2.5",
        select(
            "Task",
            "id",
            where=both(compare("bid", ">=", bare("14400")), compare("bid", "<=", bare("2.5"))),
        ),
        id="inclusive-comparisons",
    ),
    pytest.param(
        'select id from Task where name like "%thrones" and name not_like "a%"',
        select(
            "Task",
            "id",
            where=both(
                compare("name", "like", quoted("%thrones")),
                compare("name", "not_like", quoted("a%")),
            ),
        ),
        id="like-and-not-like",
    ),
    pytest.param(
        'select id from Task where status.name not_in ("Omitted", "On Hold")',
        select(
            "Task",
            "id",
            where=compare(
                "status.name", "not_in", LiteralList((quoted("Omitted"), quoted("On Hold")))
            ),
        ),
        id="not-in-quoted-list",
    ),
    pytest.param(
        "select id from Task where id in ()",
        select("Task", "id", where=compare("id", "in", LiteralList(()))),
        id="in-empty-list",
    ),
    pytest.param(
        'select id from Note where author has (first_name is "Ana" and last_name is "Ruiz")',
        select(
            "Note",
            "id",
            where=Relational(
                ("author",),
                "has",
                both(
                    compare("first_name", "is", quoted("Ana")),
                    compare("last_name", "is", quoted("Ruiz")),
                ),
            ),
        ),
        id="has",
    ),
    pytest.param(
        'select id from Task where name="Modeling" and key=some_key',
        select(
            "Task",
            "id",
            where=both(
                compare("name", "is", quoted("Modeling")), compare("key", "is", bare("some_key"))
            ),
        ),
        id="equals-without-spaces",
    ),
    pytest.param(
        "select id from Task where a is 1 and b is 2 or c is 3",
        select(
            "Task",
            "id",
            where=Or(
                (
                    both(compare("a", "is", bare("1")), compare("b", "is", bare("2"))),
                    compare("c", "is", bare("3")),
                )
            ),
        ),
        id="and-binds-tighter-than-or",
    ),
    pytest.param(
        "select id from Task where not (a is 1 or b is 2)",
        select(
            "Task",
            "id",
            where=Not(Or((compare("a", "is", bare("1")), compare("b", "is", bare("2"))))),
        ),
        id="not-group",
    ),
    pytest.param(
        "SELECT id FROM Task WHERE name IS x AND NOT timelogs ANY () OR parent HAS (id IS_NOT y) "
        "ORDER BY name DESC LIMIT 5 OFFSET 2",
        select(
            "Task",
            "id",
            where=Or(
                (
                    both(
                        compare("name", "is", bare("x")),
                        Not(Relational(("timelogs",), "any", None)),
                    ),
                    Relational(("parent",), "has", compare("id", "is_not", bare("y"))),
                )
            ),
            order_by=(OrderKey(("name",), descending=True),),
            offset=2,
            limit=5,
        ),
        id="upper-case-keywords",
    ),
    pytest.param(
        "Select COUNT(id) From Task Group By type_id, status_id Order By type_id Asc",
        Query(
            "Task",
            (Projection(("id",), "count"),),
            group_by=(("type_id",), ("status_id",)),
            order_by=(OrderKey(("type_id",)),),
        ),
        id="mixed-case-keywords-and-function",
    ),
    pytest.param(
        "select sum(bid), avg(bid), min(bid), max(bid) from Task group by status_id",
        Query(
            "Task",
            tuple(Projection(("bid",), function) for function in ("sum", "avg", "min", "max")),
            group_by=(("status_id",),),
        ),
        id="aggregate-functions",
    ),
    pytest.param(
        "select id from Task limit 5 offset 10",
        select("Task", "id", offset=10, limit=5),
        id="limit-before-offset",
    ),
    pytest.param(
        "select id from Task order by b group by a",
        select("Task", "id", group_by=(("a",),), order_by=(OrderKey(("b",)),)),
        id="order-by-before-group-by",
    ),
    pytest.param(
        "select id from Task order by name asc, parent.name desc",
        select("Task", "id", order_by=(OrderKey(("name",)), OrderKey(("parent", "name"), True))),
        id="order-by-several-keys",
    ),
    pytest.param(
        "select id from Task where name is 'sh010' and note is 'it\\'s'",
        select(
            "Task",
            "id",
            where=both(
                compare("name", "is", quoted("sh010")), compare("note", "is", quoted("it's"))
            ),
        ),
        id="single-quoted-strings",
    ),
    pytest.param(
        'select id from Task where name is "She said \\"hi\\"" and path is "a\\\\b"',
        select(
            "Task",
            "id",
            where=both(
                compare("name", "is", quoted('She said "hi"')),
                compare("path", "is", quoted("a\\b")),
            ),
        ),
        id="double-quoted-escapes",
    ),
    pytest.param(
        'select id from Task where a is "None" and b is None and c is NULL',
        select(
            "Task",
            "id",
            where=both(
                compare("a", "is", quoted("None")),
                compare("b", "is", bare("None")),
                compare("c", "is", bare("NULL")),
            ),
        ),
        id="quoted-none-is-a-string",
    ),
    pytest.param(
        'select id from Task where user is john.doe and created_at is "2024-03-01T08:30:00.000Z"',
        select(
            "Task",
            "id",
            where=both(
                compare("user", "is", bare("john.doe")),
                compare("created_at", "is", quoted("2024-03-01T08:30:00.000Z")),
            ),
        ),
        id="bare-dotted-word-and-iso-datetime",
    ),
    pytest.param(
        'select id\nfrom Task\r\nwhere\tname is "x"\n',
        select("Task", "id", where=compare("name", "is", quoted("x"))),
        id="newlines-as-whitespace",
    ),
    pytest.param(
        "select id from Task where parent_id in (select id from Shot where name is sh010 limit 3)",
        select(
            "Task",
            "id",
            where=compare(
                "parent_id",
                "in",
                SubQuery(select("Shot", "id", where=compare("name", "is", bare("sh010")), limit=3)),
            ),
        ),
        id="subquery-with-limit",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CLIENT_SHAPES + WORKED_EXAMPLES + LANGUAGE)
def test_parse_builds_the_syntax_tree(text: str, expected: Query) -> None:
    assert parse(text) == expected


SYNTAX_ERRORS = [
    pytest.param('Shot wher name is "sh010"', 1, 6, id="misspelt-where"),
    pytest.param("select id from Task where name ~ 1", 1, 32, id="unknown-operator"),
    pytest.param("select id from Task\nwhere name ~ 1", 2, 12, id="second-line"),
    pytest.param("select id from Task limit x", 1, 27, id="limit-not-a-number"),
    pytest.param("select id, from Task", 1, 17, id="trailing-comma"),
    pytest.param('select id from Task where name is "x" garbage', 1, 39, id="trailing-word"),
    pytest.param('select id from Task where name is "x" )', 1, 39, id="unbalanced-parenthesis"),
    pytest.param("select id from Task where a in (1,)", 1, 35, id="empty-list-item"),
    pytest.param("", 1, 1, id="empty"),
]


@pytest.mark.parametrize(("text", "line", "column"), SYNTAX_ERRORS)
def test_syntax_error_shows_expected_position_and_caret(text: str, line: int, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)

    message = str(caught.value)
    first, shown, caret = message.split("\n")
    assert first.startswith("expected ")
    assert first.endswith(f" at line {line}, column {column}")
    assert shown == "  " + text.split("\n")[line - 1]
    assert caret == "  " + " " * (column - 1) + "^"
    assert (caught.value.line, caught.value.column) == (line, column)


def test_syntax_error_names_what_was_expected() -> None:
    with pytest.raises(QuerySyntaxError, match=r"^expected .*'where'.* or end of query at line 1"):
        parse('Shot wher name is "sh010"')


@pytest.mark.parametrize(
    ("text", "column"),
    [
        pytest.param("select id from", 15, id="after-from"),
        pytest.param("select id from Task where name is", 34, id="after-operator"),
        pytest.param('select id from Task where (name is "x"', 39, id="unclosed-parenthesis"),
    ],
)
def test_syntax_error_at_end_of_query_points_after_the_last_character(
    text: str, column: int
) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)

    assert (caught.value.line, caught.value.column) == (1, column)


def test_syntax_error_caret_points_at_the_offending_character() -> None:
    # The position counts lines by "\n" only; "\r" is whitespace within a line.
    text = "select id from Task\rwhere name ~ 1"

    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)

    shown, caret = str(caught.value).split("\n")[1:]
    column = caught.value.column
    assert caret == "  " + " " * (column - 1) + "^"
    assert shown[2:][column - 1 : column] == "~"


@pytest.mark.parametrize(
    "clause",
    ["limit 1 limit 2", "offset 1 offset 2", "order by a order by b", "group by a group by b"],
    ids=["limit", "offset", "order-by", "group-by"],
)
def test_repeated_clause_raises_query_error(clause: str) -> None:
    with pytest.raises(QueryError, match="given twice"):
        parse(f"select id from Task {clause}")


def test_deeply_nested_query_raises_query_error() -> None:
    text = "select id from Task where " + "not " * 1000 + "name is x"

    with pytest.raises(QueryError):
        parse(text)


@given(st.text())
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    try:
        result = parse(text)
    except QueryError as exc:
        assert str(exc)
    else:
        assert isinstance(result, Query)
