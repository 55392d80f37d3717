"""Resource identifier confinement and SFTP settings resolution (pure functions)."""

from __future__ import annotations

import pytest

from shotbase.errors import AccessorResourceInvalidError, ConfigurationError
from shotbase.storage.accessor.base import split_identifier
from shotbase.storage.accessor.sftp import resolve_sftp_settings


@pytest.mark.parametrize(
    ("identifier", "parts"),
    [("a/b/c.exr", ("a", "b", "c.exr")), ("", ()), ("./a//b/", ("a", "b")), ("a\\b", ("a", "b"))],
    ids=["plain", "root", "dots-and-slashes", "backslash"],
)
def test_split_identifier_normalises_relative_paths(
    identifier: str, parts: tuple[str, ...]
) -> None:
    assert split_identifier(identifier) == parts


@pytest.mark.parametrize(
    "identifier",
    ["../x", "a/../../x", "/etc/passwd", "\\\\server\\share", "C:/x", "..\\x", "a\x00b"],
    ids=["dotdot", "nested-dotdot", "absolute", "unc", "drive", "windows-dotdot", "nul"],
)
def test_split_identifier_refuses_escaping_identifiers(identifier: str) -> None:
    with pytest.raises(AccessorResourceInvalidError):
        split_identifier(identifier)


def test_split_identifier_refuses_non_strings() -> None:
    with pytest.raises(AccessorResourceInvalidError):
        split_identifier(42)  # type: ignore[arg-type]


def test_sftp_settings_prefer_arguments_then_shotbase_then_ftrack_env() -> None:
    environ = {
        "SHOTBASE_SFTP_HOSTNAME": "sb.example",
        "FTRACK_SFTP_ACCESSOR_HOSTNAME": "ft.example",
        "FTRACK_SFTP_ACCESSOR_PORT": "2222",
        "FTRACK_SFTP_ACCESSOR_USERNAME": "ft",
        "FTRACK_SFTP_ACCESSOR_PASSWORD": "secret",
        "SHOTBASE_SFTP_FOLDER": "/data",
    }

    from_env = resolve_sftp_settings(environ=environ)
    explicit = resolve_sftp_settings("arg.example", "me", 23, environ=environ)

    assert (from_env.hostname, from_env.port, from_env.username) == ("sb.example", 2222, "ft")
    assert (from_env.password, from_env.folder) == ("secret", "/data")
    assert (explicit.hostname, explicit.port, explicit.username) == ("arg.example", 23, "me")
    assert "secret" not in repr(from_env)


def test_sftp_settings_need_a_hostname() -> None:
    with pytest.raises(ConfigurationError, match="SHOTBASE_SFTP_HOSTNAME"):
        resolve_sftp_settings(environ={})


def test_sftp_settings_name_a_bad_port() -> None:
    with pytest.raises(ConfigurationError, match="FTRACK_SFTP_ACCESSOR_PORT='ten'"):
        resolve_sftp_settings(
            environ={"SHOTBASE_SFTP_HOSTNAME": "h", "FTRACK_SFTP_ACCESSOR_PORT": "ten"}
        )
