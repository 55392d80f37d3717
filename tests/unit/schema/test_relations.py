"""Resolving how references and collections join their targets."""

from __future__ import annotations

from typing import Any

import pytest

from shotbase.errors import SchemaError
from shotbase.schema import AttributeKind, Schema, load_schema
from shotbase.schema.relations import Relation, resolve_relations
from tests.unit.schema.definitions import document, entry


@pytest.fixture(scope="module")
def relations(schema: Schema) -> dict[tuple[str, str], Relation]:
    return resolve_relations(schema)


def test_every_reference_and_collection_is_resolved(
    schema: Schema, relations: dict[tuple[str, str], Relation]
) -> None:
    expected = {
        (entity_type.id, attribute.name)
        for entity_type in schema.types.values()
        for attribute in entity_type.attributes.values()
        if attribute.kind is not AttributeKind.SCALAR and not attribute.is_restricted
    }

    assert set(relations) == expected


@pytest.mark.parametrize(
    ("owner", "name", "expected"),
    [
        ("Context", "children", {"is_collection": True, "pairs": (("id", "parent_id"),)}),
        ("Shot", "children", {"target": "Context", "pairs": (("id", "parent_id"),)}),
        ("Task", "status", {"is_collection": False, "pairs": (("status_id", "id"),)}),
        ("Asset", "parent", {"target": "Context", "pairs": (("context_id", "id"),)}),
        (
            "TypedContextList",
            "items",
            {
                "through": "ListObject",
                "pairs": (("id", "list_id"),),
                "onward": (("entity_id", "id"),),
            },
        ),
        (
            "Context",
            "assignments",
            {
                "target": "Appointment",
                "pairs": (("id", "context_id"),),
                "where": {"type": "assignment"},
            },
        ),
        ("TypedContext", "ancestors", {"tree": "ancestors", "pairs": ()}),
        ("Context", "scopes", {"link_table": "context_scope"}),
        ("Shot", "metadata", {"pairs": (("id", "parent_id"),)}),
        ("Shot", "custom_attributes", {"pairs": (("id", "entity_id"),)}),
        ("Asset", "latest_version", {"derived": "latest_version"}),
    ],
    ids=[
        "context-children-by-parent-id",
        "inherited-children",
        "task-status-by-status-id",
        "asset-parent-by-context-id",
        "typed-context-list-items-through-list-object",
        "context-assignments-where-type-assignment",
        "typed-context-ancestors-tree",
        "context-scopes-link-table",
        "metadata-by-parent-id",
        "custom-attributes-by-entity-id",
        "asset-latest-version-derived",
    ],
)
def test_relation_joins_as_defined(
    relations: dict[tuple[str, str], Relation], owner: str, name: str, expected: dict[str, Any]
) -> None:
    relation = relations[owner, name]

    assert {key: getattr(relation, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("things", {"type": "array", "items": {"$ref": "Thing"}}),
        ("thing", {"$ref": "Thing"}),
    ],
    ids=["collection-without-inverse-reference", "reference-without-holder"],
)
def test_unresolvable_relation_raises_schema_error_naming_it(
    name: str, fragment: dict[str, Any]
) -> None:
    loaded = load_schema(document(entry("Owner", {name: fragment}), entry("Thing")))

    with pytest.raises(SchemaError, match=rf"Owner\.{name}\b"):
        resolve_relations(loaded)


def test_collection_is_the_inverse_of_the_one_reference_back() -> None:
    loaded = load_schema(
        document(
            entry("Owner", {"things": {"type": "array", "items": {"$ref": "Thing"}}}),
            entry("Thing", {"owner_id": {"type": "string"}, "owner": {"$ref": "Owner"}}),
        )
    )

    relation = resolve_relations(loaded)["Owner", "things"]

    assert (relation.is_collection, relation.pairs) == (True, (("id", "owner_id"),))
