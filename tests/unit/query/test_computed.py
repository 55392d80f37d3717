"""Computed attributes loaded and filtered on a real SQLite database: review sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from shotbase.query.compiler import QueryCompiler
from shotbase.query.computed import ComputeContext
from shotbase.query.loader import Loader, render
from shotbase.query.parser import parse
from shotbase.schema import load_builtin_schema
from shotbase.store import build_tables
from shotbase.store.tables import Tables

BASE_URL = "http://shotbase.test"
NOW = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
PAST, FUTURE = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def tables() -> Tables:
    return build_tables(load_builtin_schema())


@pytest.fixture
def engine(tables: Tables) -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    tables.metadata.create_all(engine)
    yield engine
    engine.dispose()


class Reviews:
    """Inserts review sessions, their objects and versions straight into the tables."""

    def __init__(self, tables: Tables, engine: sa.Engine) -> None:
        self.tables, self.engine = tables, engine
        self.created = dt.datetime(2024, 1, 1)

    def add(self, type_id: str, **values: Any) -> None:
        table = self.tables.of(self.tables.schema.get(type_id))
        with self.engine.begin() as connection:
            connection.execute(table.insert().values(_type=type_id, **values))

    def session(self, name: str, end_date: dt.datetime | None) -> None:
        self.add("ReviewSession", id=name, name=name, end_date=end_date)

    def version(self, name: str, thumbnail_id: str | None) -> None:
        if thumbnail_id is not None:
            self.add("FileComponent", id=thumbnail_id, name=f"{thumbnail_id}.jpg")
        self.add("AssetVersion", id=name, thumbnail_id=thumbnail_id)

    def item(self, session: str, version: str, sort_order: float, name: str = "") -> None:
        # Each object is created a second after the last one.
        self.created += dt.timedelta(seconds=1)
        self.add(
            "ReviewSessionObject",
            id=name or f"{session}-{version}",
            review_session_id=session,
            version_id=version,
            sort_order=sort_order,
            created_at=self.created,
        )


@pytest.fixture
def reviews(tables: Tables, engine: sa.Engine) -> Reviews:
    return Reviews(tables, engine)


def answer(tables: Tables, engine: sa.Engine, expression: str) -> list[dict[str, Any]]:
    """The rendered entities of a query, as the ``query`` action answers them."""
    compiler = QueryCompiler(tables)
    parsed = parse(expression)
    with engine.connect() as connection:
        loader = Loader(compiler, connection, ComputeContext(tables, BASE_URL))
        records, _ = loader.run(compiler.compile(parsed), parsed.projections)
    return render(records)


def names(tables: Tables, engine: sa.Engine, expression: str) -> list[str]:
    return [row["id"] for row in answer(tables, engine, expression)]


def test_is_open_is_true_until_the_end_date_has_passed(
    tables: Tables, engine: sa.Engine, reviews: Reviews
) -> None:
    reviews.session("closed", PAST)
    reviews.session("open", FUTURE)
    reviews.session("endless", None)

    rows = answer(tables, engine, "select is_open from ReviewSession order by id")

    assert {row["id"]: row["is_open"] for row in rows} == {
        "closed": False,
        "endless": True,
        "open": True,
    }


@pytest.mark.parametrize(
    "condition, expected",
    [
        ("is_open is true", ["endless", "open"]),
        ("is_open is false", ["closed"]),
        ("is_open is_not true", ["closed"]),
        ("not is_open is true", ["closed"]),
        ("is_open in (false)", ["closed"]),
    ],
    ids=["is-true", "is-false", "is-not-true", "not", "in"],
)
def test_is_open_filter_runs_in_sql(
    tables: Tables, engine: sa.Engine, reviews: Reviews, condition: str, expected: list[str]
) -> None:
    reviews.session("closed", PAST)
    reviews.session("open", FUTURE)
    reviews.session("endless", None)

    found = names(tables, engine, f"select id from ReviewSession where {condition} order by id")

    assert found == expected


def test_order_by_is_open_puts_closed_sessions_first(
    tables: Tables, engine: sa.Engine, reviews: Reviews
) -> None:
    reviews.session("a", FUTURE)
    reviews.session("b", PAST)
    reviews.session("c", None)

    assert names(tables, engine, "select id from ReviewSession order by is_open, id") == [
        "b",
        "a",
        "c",
    ]
    assert names(tables, engine, "select id from ReviewSession order by is_open desc, id") == [
        "a",
        "c",
        "b",
    ]


def test_thumbnail_id_is_the_first_object_with_a_thumbnail(
    tables: Tables, engine: sa.Engine, reviews: Reviews
) -> None:
    reviews.session("review", FUTURE)
    reviews.version("bare", None)
    reviews.version("second", "thumb-2")
    reviews.version("first", "thumb-1")
    reviews.item("review", "second", sort_order=2)
    reviews.item("review", "bare", sort_order=0)  # first, but without a thumbnail
    reviews.item("review", "first", sort_order=1)

    rows = answer(tables, engine, "select thumbnail_id, thumbnail.name from ReviewSession")

    assert rows[0]["thumbnail_id"] == "thumb-1"
    assert rows[0]["thumbnail"]["name"] == "thumb-1.jpg"


def test_thumbnail_id_ties_are_broken_by_creation_then_id(
    tables: Tables, engine: sa.Engine, reviews: Reviews
) -> None:
    reviews.session("review", FUTURE)
    reviews.version("early", "thumb-early")
    reviews.version("late", "thumb-late")
    reviews.item("review", "early", sort_order=1, name="z")
    reviews.item("review", "late", sort_order=1, name="a")

    rows = answer(tables, engine, "select thumbnail_id from ReviewSession")

    assert rows[0]["thumbnail_id"] == "thumb-early"


def test_thumbnail_id_is_null_when_no_object_has_a_thumbnail(
    tables: Tables, engine: sa.Engine, reviews: Reviews
) -> None:
    reviews.session("bare", FUTURE)
    reviews.session("empty", FUTURE)
    reviews.version("version", None)
    reviews.item("bare", "version", sort_order=0)

    rows = answer(
        tables, engine, "select thumbnail_id, thumbnail, thumbnail_url from ReviewSession"
    )

    assert [(row["thumbnail_id"], row["thumbnail"]) for row in rows] == [(None, None)] * 2
    assert {row["thumbnail_url"]["url"] for row in rows} == {f"{BASE_URL}/img/thumbnail2.png"}


def test_thumbnail_url_follows_the_computed_thumbnail_id(
    tables: Tables, engine: sa.Engine, reviews: Reviews
) -> None:
    reviews.session("review", FUTURE)
    reviews.version("version", "thumb-1")
    reviews.item("review", "version", sort_order=0)

    rows = answer(tables, engine, "select thumbnail_url from ReviewSession")

    assert rows[0]["thumbnail_url"] == {"url": f"{BASE_URL}/component/thumbnail?id=thumb-1"}


@pytest.mark.parametrize(
    "condition, expected",
    [
        ('thumbnail_id is "thumb-1"', ["shown"]),
        ("thumbnail_id is None", ["bare"]),
        ('thumbnail.name like "thumb%"', ["shown"]),
        ("thumbnail is None", ["bare"]),
        ("thumbnail is_not None", ["shown"]),
    ],
    ids=["id", "id-none", "through-reference", "reference-none", "reference-not-none"],
)
def test_thumbnail_filter_runs_in_sql(
    tables: Tables, engine: sa.Engine, reviews: Reviews, condition: str, expected: list[str]
) -> None:
    reviews.session("shown", FUTURE)
    reviews.session("bare", FUTURE)
    reviews.version("version", "thumb-1")
    reviews.item("shown", "version", sort_order=0)

    assert names(tables, engine, f"select id from ReviewSession where {condition}") == expected


def test_order_by_thumbnail_id(tables: Tables, engine: sa.Engine, reviews: Reviews) -> None:
    for name, thumbnail in (("a", "thumb-2"), ("b", "thumb-1"), ("c", None)):
        reviews.session(name, FUTURE)
        reviews.version(name, thumbnail)
        reviews.item(name, name, sort_order=0)

    found = names(tables, engine, "select id from ReviewSession order by thumbnail_id desc, id")

    assert found[:2] == ["a", "b"]


def test_review_session_projection_costs_the_same_statements_for_many_rows(
    tables: Tables, engine: sa.Engine, reviews: Reviews
) -> None:
    expression = (
        "select is_open, thumbnail_id, thumbnail_url, thumbnail.name from ReviewSession "
        "where is_open is true"
    )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    def run(sessions: int) -> int:
        for index in range(sessions):
            name = f"r{sessions}-{index}"
            reviews.session(name, FUTURE)
            reviews.version(name, f"{name}-thumb")
            reviews.item(name, name, sort_order=0)
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            answer(tables, engine, expression)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    assert run(1) == run(40)
