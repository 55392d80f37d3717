"""Fixtures shared by the unit tests: the built-in schema and its definition document."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from shotbase.schema import Schema, load_builtin_schema


@pytest.fixture(scope="session")
def schema() -> Schema:
    """The built-in schema, loaded once; tests only read it."""
    return load_builtin_schema()


@pytest.fixture(scope="session")
def _builtin_definition() -> dict[str, Any]:
    text = resources.files("shotbase.schema.definition").joinpath("builtin.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.fixture
def definition(_builtin_definition: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the built-in definition document, free to modify."""
    return copy.deepcopy(_builtin_definition)
