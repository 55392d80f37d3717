"""Tables generated from the schema: one per family, plus link tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shotbase.errors import SchemaError
from shotbase.schema import Schema, load_schema
from shotbase.store.tables import TYPE_COLUMN, Tables, build_tables, table_name
from tests.unit.schema.definitions import document, entry


@pytest.fixture(scope="module")
def tables(schema: Schema) -> Tables:
    return build_tables(schema)


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


def test_one_table_per_family_root(schema: Schema, tables: Tables) -> None:
    roots = {t.id for t in schema.types.values() if t.base is None}

    assert set(tables.families) == roots
    assert tables.of(schema.get("Shot")) is tables.families["Context"]
    assert tables.of(schema.get("FileComponent")) is tables.families["Component"]


@pytest.mark.parametrize(
    "column",
    ["id", "name", "full_name", "bid", "object_type_id", "context_type", TYPE_COLUMN],
    ids=[
        "key",
        "shared",
        "project-only",
        "shot-only",
        "typed-context-only",
        "discriminator",
        "type",
    ],
)
def test_context_table_holds_columns_of_every_member(tables: Tables, column: str) -> None:
    assert column in tables.families["Context"].c


def test_family_table_keys_on_the_root_primary_key(tables: Tables) -> None:
    context = tables.families["Context"]

    assert context.name == "context"
    assert [c.name for c in context.primary_key] == ["id"]
    assert not context.c[TYPE_COLUMN].nullable


def test_relations_and_computed_attributes_get_no_column(tables: Tables) -> None:
    context = tables.families["Context"]

    assert "parent" not in context.c
    assert "children" not in context.c
    assert "link" not in context.c


@pytest.mark.parametrize(
    ("type_id", "expected"),
    [("Context", "context"), ("CustomAttributeValue", "custom_attribute_value")],
    ids=["one-word", "camel-case"],
)
def test_table_name_is_snake_case(type_id: str, expected: str) -> None:
    assert table_name(type_id) == expected


def test_link_tables_exist_for_link_table_relations(tables: Tables) -> None:
    scope = tables.links["context_scope"]

    assert set(tables.links) == {
        "configuration_read_role",
        "configuration_write_role",
        "context_scope",
    }
    assert [c.name for c in scope.primary_key] == ["owner_id", "target_id"]


def test_tables_create_on_sqlite(tables: Tables, engine: sa.Engine) -> None:
    tables.metadata.create_all(engine)

    created = set(sa.inspect(engine).get_table_names())
    internal = {"api_key", "context_ancestor"}
    expected = {t.name for t in tables.families.values()} | set(tables.links) | internal
    assert created == expected


def test_family_members_declaring_one_attribute_with_two_types_raise_schema_error() -> None:
    conflicting = load_schema(
        document(
            entry("Base"),
            entry("Left", {"size": {"type": "integer"}}, extends="Base"),
            entry("Right", {"size": {"type": "string"}}, extends="Base"),
        )
    )

    with pytest.raises(SchemaError, match="'size'"):
        build_tables(conflicting)
