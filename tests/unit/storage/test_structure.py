"""Structures on plain mappings (the duck shape official and shotbase entities share)."""

from __future__ import annotations

from typing import Any

import pytest

from shotbase.storage.structure import (
    EntityIdStructure,
    IdStructure,
    OriginStructure,
    StandardStructure,
    entity_type_of,
)

COMPONENT_ID = "abcd1234-0000-4000-8000-000000000000"


def version(link_names: list[str]) -> dict[str, Any]:
    link = [{"id": f"id-{name}", "name": name} for name in link_names]
    return {"link": link, "asset": {"name": "Hero Plate"}, "version": 3}


def component(entity_type: str, **values: Any) -> dict[str, Any]:
    data = {"__entity_type__": entity_type, "id": COMPONENT_ID, "name": "main", "file_type": ""}
    data.update(values)
    return data


def published(entity_type: str, **values: Any) -> dict[str, Any]:
    hierarchy = ["Big Show", "sq010", "sh010", "compositing", "Hero Plate v3"]
    return component(entity_type, version=version(hierarchy), container=None, **values)


def test_standard_file_uses_hierarchy_asset_and_version() -> None:
    entity = published("FileComponent", file_type=".exr")

    assert StandardStructure().get_resource_identifier(entity) == (
        "big_show/sq010/sh010/compositing/hero_plate/v003/main.exr"
    )


def test_standard_sanitises_accents_and_spaces() -> None:
    structure = StandardStructure()

    assert structure.sanitise_for_filesystem("Café Plate/1") == "cafe_plate_1"
    assert (
        StandardStructure(illegal_character_substitute=None).sanitise_for_filesystem("A b") == "A b"
    )


def test_standard_sequence_and_member_share_a_folder() -> None:
    sequence = published("SequenceComponent", name="plate", file_type=".exr", padding=4)
    member = component("FileComponent", name="0042", file_type=".exr", container=sequence)
    structure = StandardStructure()

    assert structure.get_resource_identifier(sequence).endswith("/v003/plate.%04d.exr")
    assert structure.get_resource_identifier(member).endswith("/v003/plate.0042.exr")


def test_standard_container_member_goes_inside_it() -> None:
    container = published("ContainerComponent", name="Refs")
    member = component("FileComponent", name="notes", file_type=".pdf", container=container)

    assert StandardStructure().get_resource_identifier(member).endswith("/v003/refs/notes.pdf")


def test_standard_uses_prefix_for_versions_under_the_project() -> None:
    entity = component(
        "FileComponent", file_type=".mov", version=version(["show", "x"]), container=None
    )

    path = StandardStructure(project_versions_prefix="_versions").get_resource_identifier(entity)

    assert path == "show/_versions/hero_plate/v003/main.mov"


def test_standard_refuses_a_component_without_version() -> None:
    with pytest.raises(ValueError, match="must be attached"):
        StandardStructure().get_resource_identifier(component("FileComponent", version=None))


def test_standard_refuses_unsupported_types() -> None:
    with pytest.raises(NotImplementedError):
        StandardStructure().get_resource_identifier(component("Shot"))


def test_id_structure_fans_out_the_first_four_characters() -> None:
    entity = component("FileComponent", file_type=".exr", container=None)

    assert IdStructure(prefix="data").get_resource_identifier(entity) == (
        "data/a/b/c/d/1234-0000-4000-8000-000000000000.exr"
    )


def test_id_structure_names_sequence_members_by_index() -> None:
    sequence = component("SequenceComponent", file_type=".exr", padding=4, container=None)
    member = component("FileComponent", name="0007", file_type=".exr", container=sequence)
    structure = IdStructure()

    assert structure.get_resource_identifier(sequence) == (
        "a/b/c/d/1234-0000-4000-8000-000000000000/file.%04d.exr"
    )
    assert structure.get_resource_identifier(member) == (
        "a/b/c/d/1234-0000-4000-8000-000000000000/file.0007.exr"
    )


def test_id_structure_places_container_members_by_id() -> None:
    container = component("ContainerComponent")
    member = component("FileComponent", id="ffff", file_type=".txt", container=container)

    assert IdStructure().get_resource_identifier(member) == (
        "a/b/c/d/1234-0000-4000-8000-000000000000/ffff.txt"
    )


def test_entity_id_structure_passes_the_id_through() -> None:
    assert EntityIdStructure().get_resource_identifier(component("FileComponent")) == COMPONENT_ID


def test_origin_structure_passes_the_source_identifier_through() -> None:
    structure = OriginStructure()

    assert structure.get_resource_identifier({}, {"source_resource_identifier": "/a/b"}) == "/a/b"
    with pytest.raises(ValueError):
        structure.get_resource_identifier({}, None)


class Entity(dict[str, Any]):
    entity_type = "FileComponent"


def test_entity_type_comes_from_an_attribute_or_the_mapping() -> None:
    assert entity_type_of(Entity()) == "FileComponent"
    assert entity_type_of({"__entity_type__": "Shot"}) == "Shot"
    with pytest.raises(TypeError):
        entity_type_of({})
