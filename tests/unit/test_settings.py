"""Resolving settings from explicit values, SHOTBASE_* variables and defaults."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from shotbase.errors import ConfigurationError
from shotbase.settings import SETTINGS, Settings


def test_defaults_apply_when_nothing_is_given() -> None:
    assert Settings.resolve({}, environ={}) == Settings()


def test_table_defaults_match_the_settings_fields() -> None:
    defaults = {field.name: field.default for field in dataclasses.fields(Settings)}

    assert {setting.name: setting.default for setting in SETTINGS} == defaults


def test_environment_overrides_the_default() -> None:
    settings = Settings.resolve({}, environ={"SHOTBASE_PORT": "9000", "SHOTBASE_HOST": "0.0.0.0"})

    assert (settings.port, settings.host) == (9000, "0.0.0.0")


def test_explicit_value_overrides_the_environment() -> None:
    settings = Settings.resolve({"port": 9100}, environ={"SHOTBASE_PORT": "9000"})

    assert settings.port == 9100


def test_explicit_none_falls_back_to_the_environment() -> None:
    settings = Settings.resolve({"port": None}, environ={"SHOTBASE_PORT": "9000"})

    assert settings.port == 9000


def test_unrelated_environment_variables_are_ignored() -> None:
    settings = Settings.resolve({}, environ={"PORT": "1", "SHOTBASE_UNKNOWN": "x"})

    assert settings == Settings()


@pytest.mark.parametrize(
    ("variable", "text"),
    [("SHOTBASE_PORT", "ten"), ("SHOTBASE_PAGE_SIZE_LIMIT", "1.5"), ("SHOTBASE_PORT", "")],
    ids=["word", "fraction", "empty"],
)
def test_invalid_int_in_environment_names_the_variable(variable: str, text: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{variable}={text!r} is not a valid int"):
        Settings.resolve({}, environ={variable: text})


def test_page_size_limit_below_one_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="page_size_limit"):
        Settings.resolve({}, environ={"SHOTBASE_PAGE_SIZE_LIMIT": "0"})


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.resolve({"data": str(tmp_path)}, environ={})

    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'shotbase.sqlite'}"


def test_database_url_uses_the_database_setting() -> None:
    url = "postgresql+psycopg://shotbase@db/shotbase"

    settings = Settings.resolve({}, environ={"SHOTBASE_DATABASE": url})

    assert settings.database_url == url


@pytest.mark.parametrize(
    ("name", "env", "flag"),
    [
        ("port", "SHOTBASE_PORT", "--port"),
        ("page_size_limit", "SHOTBASE_PAGE_SIZE_LIMIT", "--page-size-limit"),
    ],
    ids=["one-word", "several-words"],
)
def test_env_and_flag_names_follow_from_the_setting(name: str, env: str, flag: str) -> None:
    setting = next(s for s in SETTINGS if s.name == name)

    assert (setting.env, setting.flag) == (env, flag)
