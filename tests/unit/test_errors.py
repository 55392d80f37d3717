"""The exception tree: codes, wire names and the public exports."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

import shotbase
import shotbase.errors
from shotbase.errors import (
    ComponentInLocationError,
    ComponentNotInLocationError,
    DuplicateEntityError,
    EntityNotFoundError,
    QuerySyntaxError,
    ReferenceNotFoundError,
    ShotbaseError,
    UnknownActionError,
    UnknownAttributeError,
    closest,
)

EXPORTED = [getattr(shotbase.errors, name) for name in shotbase.errors.__all__]
ERROR_CLASSES: list[type[ShotbaseError]] = [
    value for value in EXPORTED if isinstance(value, type) and issubclass(value, ShotbaseError)
]


def test_every_exported_exception_derives_from_the_root() -> None:
    exceptions = [
        value for value in EXPORTED if isinstance(value, type) and issubclass(value, BaseException)
    ]

    assert len(ERROR_CLASSES) == 37
    assert exceptions == ERROR_CLASSES


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_error_class_has_a_dotted_code_and_wire_name(cls: type[ShotbaseError]) -> None:
    assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", cls.code)
    assert re.fullmatch(r"[A-Z][A-Za-z]*", cls.wire_name)
    assert 400 <= cls.http_status <= 599


def test_error_codes_are_distinct() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]

    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_module_docstring_draws_each_class_with_its_code(cls: type[ShotbaseError]) -> None:
    assert shotbase.errors.__doc__ is not None
    assert re.search(rf"\b{cls.__name__} +{re.escape(cls.code)}\n", shotbase.errors.__doc__)


@pytest.mark.parametrize("module", [shotbase, shotbase.errors], ids=lambda m: m.__name__)
def test_exports_are_sorted_and_exist(module: ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []


def test_unknown_action_message_is_the_reference_wording() -> None:
    error = UnknownActionError("x")

    assert str(error) == "Invalid action u'x'"
    assert error.message == "Invalid action u'x'"
    assert error.action == "x"


def test_unknown_attribute_without_close_name_gives_no_hint() -> None:
    error = UnknownAttributeError("Shot", "zzzz", ["name", "id"])

    assert str(error) == "Shot has no attribute 'zzzz'."
    assert error.suggestion is None


def test_query_syntax_error_draws_a_caret_under_the_column() -> None:
    error = QuerySyntaxError("'where'", 'Shot wher name is "sh010"', 1, 6)

    assert str(error) == (
        "expected 'where' at line 1, column 6\n  Shot wher name is \"sh010\"\n       ^"
    )


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (EntityNotFoundError("Shot", iter(["a", 1])), "No Shot with key (a, 1) exists."),
        (DuplicateEntityError("Shot", ["a"]), "A Shot with key (a) already exists."),
        (
            ReferenceNotFoundError("Task.parent", "Shot", ["x", "y"]),
            "Task.parent refers to a Shot (x, y) that does not exist.",
        ),
        (
            ComponentNotInLocationError(["c1", "c2"], "disk"),
            "Component(s) c1, c2 not found in location disk.",
        ),
        (
            ComponentInLocationError(range(5), "disk"),
            "Component(s) 0, 1, 2, 3, 4 already exist in location disk.",
        ),
        (
            ComponentInLocationError(range(7), "disk"),
            "Component(s) 0, 1, 2, 3, 4 and 2 more already exist in location disk.",
        ),
    ],
    ids=["not-found", "duplicate", "reference", "not-in-location", "five", "more-than-five"],
)
def test_message_lists_keys_and_at_most_five_components(error: ShotbaseError, message: str) -> None:
    assert str(error) == message
    assert error.message == message


def test_component_error_keeps_every_component_and_the_location() -> None:
    error = ComponentNotInLocationError(iter(range(7)), "disk")

    assert error.components == list(range(7))
    assert error.location == "disk"
    assert error.details == {"components": list(range(7)), "location": "disk"}


def test_entity_error_keeps_the_key_given_as_an_iterator() -> None:
    error = EntityNotFoundError("Shot", iter(["a", 1]))

    assert (error.entity_type, error.key) == ("Shot", ("a", 1))


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [("Shott", ["Shot", "Task"], "Shot"), ("xyz", ["Shot", "Task"], None), ("Shot", [], None)],
    ids=["close", "far", "no-candidates"],
)
def test_closest_suggests_only_similar_names(
    name: str, candidates: list[str], expected: str | None
) -> None:
    assert closest(name, candidates) == expected


def test_closest_of_a_name_that_is_not_text_is_none() -> None:
    assert closest(42, ["Task"]) is None  # type: ignore[arg-type]
