"""Loading the schema definition into entity types, and the wire document it serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shotbase.errors import SchemaError, UnknownAttributeError, UnknownEntityTypeError
from shotbase.schema import AttributeKind, DataType, Schema, load_schema, schema_hash
from tests.unit.schema.definitions import document, entry

# shared/ sits beside the repository, on developer machines and in CI alike.
REFERENCE_SCHEMAS = (
    Path(__file__).resolve().parents[4] / "shared/reference/ftrack/fixtures/query_schemas.json"
)
REFERENCE_HASH = "23a1157b8b1730fd91c76f63dcd67a8f"


def test_builtin_schema_defines_116_entity_types(schema: Schema) -> None:
    assert len(schema.types) == 116


def test_wire_equals_the_reference_query_schemas_fixture(schema: Schema) -> None:
    reference = json.loads(REFERENCE_SCHEMAS.read_text())

    assert schema.wire == reference


def test_hash_is_the_reference_schema_hash(schema: Schema) -> None:
    assert schema.hash == REFERENCE_HASH
    assert schema_hash(schema.wire) == REFERENCE_HASH


def test_hash_changes_when_a_property_is_added(definition: dict[str, Any]) -> None:
    shot = next(t for t in definition["types"] if t["id"] == "Shot")
    shot["properties"]["lens"] = {"type": "string"}

    changed = load_schema(definition)

    assert changed.hash != REFERENCE_HASH
    assert changed.hash == schema_hash(changed.wire)
    assert "lens" in changed.get("Shot").attributes


@pytest.mark.parametrize(
    ("type_id", "base_id"),
    [("Shot", "TypedContext"), ("TypedContext", "Context"), ("Project", "Context")],
    ids=["shot-extends-typed-context", "typed-context-extends-context", "project-extends-context"],
)
def test_type_extends_its_base(schema: Schema, type_id: str, base_id: str) -> None:
    entity_type = schema.get(type_id)

    assert entity_type.base is schema.get(base_id)
    assert entity_type in schema.get(base_id).subtypes


def test_root_is_the_top_of_the_family(schema: Schema) -> None:
    assert schema.get("FileComponent").root is schema.get("Component")
    assert schema.get("Shot").root is schema.get("Context")
    assert schema.get("Context").root is schema.get("Context")


@pytest.mark.parametrize(
    ("type_id", "is_abstract"),
    [("Context", True), ("TypedContext", True), ("Component", True), ("Shot", False)],
    ids=["context", "typed-context", "component", "shot"],
)
def test_base_types_are_abstract(schema: Schema, type_id: str, is_abstract: bool) -> None:
    assert schema.get(type_id).is_abstract is is_abstract


def test_concrete_ids_leave_out_abstract_types(schema: Schema) -> None:
    concrete = schema.get("Context").concrete_ids()

    assert {"Project", "Shot", "Task"} <= set(concrete)
    assert "Context" not in concrete
    assert "TypedContext" not in concrete


@pytest.mark.parametrize(
    ("type_id", "name", "kind", "data_type", "target"),
    [
        ("Shot", "parent", AttributeKind.REFERENCE, None, "Context"),
        ("Context", "children", AttributeKind.COLLECTION, None, "Context"),
        ("Shot", "metadata", AttributeKind.MAPPED_COLLECTION, None, "Metadata"),
        ("Task", "created_at", AttributeKind.SCALAR, DataType.DATETIME, None),
        ("Task", "name", AttributeKind.SCALAR, DataType.STRING, None),
        ("Task", "bid", AttributeKind.SCALAR, DataType.NUMBER, None),
        ("FileComponent", "size", AttributeKind.SCALAR, DataType.INTEGER, None),
    ],
    ids=[
        "shot-parent-reference",
        "context-children-collection",
        "shot-metadata-mapped-collection",
        "task-created-at-datetime",
        "task-name-string",
        "task-bid-number",
        "file-component-size-integer",
    ],
)
def test_attribute_kind_follows_its_property(
    schema: Schema,
    type_id: str,
    name: str,
    kind: AttributeKind,
    data_type: DataType | None,
    target: str | None,
) -> None:
    attribute = schema.get(type_id).attribute(name)

    assert (attribute.kind, attribute.data_type, attribute.target) == (kind, data_type, target)


@pytest.mark.parametrize("name", ["custom_attribute_links", "custom_attribute_links_from"])
def test_restricted_projection_attributes_are_flagged(schema: Schema, name: str) -> None:
    assert schema.get("Shot").attribute(name).is_restricted
    assert not schema.get("Shot").attribute("parent").is_restricted


def test_property_without_type_or_ref_is_a_string_foreign_key(schema: Schema) -> None:
    attribute = schema.get("User").attribute("user_type_id")

    assert (attribute.kind, attribute.data_type) == (AttributeKind.SCALAR, DataType.STRING)


def test_unknown_entity_type_suggests_the_closest_name(schema: Schema) -> None:
    with pytest.raises(UnknownEntityTypeError, match="Did you mean 'Shot'") as caught:
        schema.get("Shott")

    assert caught.value.suggestion == "Shot"


def test_unknown_attribute_suggests_the_closest_name(schema: Schema) -> None:
    with pytest.raises(UnknownAttributeError, match="Did you mean 'name'") as caught:
        schema.get("Shot").attribute("nmae")

    assert (caught.value.entity_type, caught.value.suggestion) == ("Shot", "name")


def test_task_system_attributes_are_api_names_of_system_columns(schema: Schema) -> None:
    assert schema.get("Task").system_attributes == ("project_id", "context_type", "object_type_id")


@pytest.mark.parametrize(
    "types",
    [
        [entry("Orphan", extends="Missing")],
        [entry("Ouroboros", extends="Ouroboros")],
        [entry("Chicken", extends="Egg"), entry("Egg", extends="Chicken")],
    ],
    ids=["extends-unknown-type", "extends-itself", "extends-in-a-cycle"],
)
def test_bad_inheritance_raises_schema_error(types: list[dict[str, Any]]) -> None:
    with pytest.raises(SchemaError, match="extends"):
        load_schema(document(*types))


def test_subtype_inherits_and_overrides_base_properties() -> None:
    loaded = load_schema(
        document(
            entry("Base", {"name": {"type": "string"}, "size": {"type": "integer"}}),
            entry("Sub", {"size": {"type": "number"}}, extends="Base"),
        )
    )

    sub = loaded.get("Sub")
    assert sub.attribute("name").data_type is DataType.STRING
    assert sub.attribute("size").data_type is DataType.NUMBER
    assert set(loaded.wire[1]["properties"]) == {"id", "name", "size"}
    assert "extends" not in loaded.wire[1]
