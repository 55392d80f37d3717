"""Resolving connection settings: explicit arguments, SHOTBASE_*, then FTRACK_*."""

from __future__ import annotations

import os

import pytest

from shotbase.client.config import resolve_connection
from shotbase.client.query_result import split_paging
from shotbase.client.version import check_server_version
from shotbase.errors import ConfigurationError, ServerCompatibilityError


def test_explicit_arguments_win_over_the_environment() -> None:
    env = {"SHOTBASE_SERVER": "http://env", "SHOTBASE_API_KEY": "k", "SHOTBASE_API_USER": "u"}

    settings = resolve_connection("http://arg/", "key", "me", None, False, env)

    assert (settings.server_url, settings.api_key, settings.api_user) == ("http://arg", "key", "me")
    assert settings.schema_cache_path is None


def test_shotbase_variables_win_over_ftrack_ones() -> None:
    env = {
        "SHOTBASE_SERVER": "http://s",
        "FTRACK_SERVER": "http://f",
        "FTRACK_API_KEY": "fk",
        "FTRACK_API_USER": "fu",
        "FTRACK_EVENT_PLUGIN_PATH": os.pathsep.join(["/a", "/b"]),
        "FTRACK_API_SCHEMA_CACHE_PATH": "/cache",
    }

    settings = resolve_connection(None, None, None, None, None, env)

    assert settings.server_url == "http://s"
    assert (settings.api_key, settings.api_user) == ("fk", "fu")
    assert settings.plugin_paths == ("/a", "/b")
    assert settings.schema_cache_path == "/cache"


def test_missing_server_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="SHOTBASE_SERVER"):
        resolve_connection(None, "k", "u", None, None, {})


@pytest.mark.parametrize("version", ["dev", "4.13.0", "3.3.11", "shotbase-0.4"])
def test_compatible_versions_pass(version: str) -> None:
    check_server_version(version)


@pytest.mark.parametrize("version", [None, "", "3.3.10.1"])
def test_missing_or_old_versions_fail(version: str | None) -> None:
    with pytest.raises(ServerCompatibilityError):
        check_server_version(version)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("select name from Task", ("select name from Task", None, None)),
        ("select name from Task offset 5 limit 10", ("select name from Task", 5, 10)),
        ("select name from Task limit 3", ("select name from Task", None, 3)),
    ],
    ids=["plain", "offset-limit", "limit"],
)
def test_split_paging_strips_offset_and_limit(
    expression: str, expected: tuple[str, int | None, int | None]
) -> None:
    assert split_paging(expression) == expected
