"""Resolve a session's connection settings: explicit arguments, then the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shotbase.errors import ConfigurationError

__all__ = ["ConnectionSettings", "resolve_connection"]

SchemaCachePath = str | Literal[False] | None


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where and as whom a session connects, and where it finds plugins and its schema cache."""

    server_url: str
    api_key: str
    api_user: str
    plugin_paths: tuple[str, ...]
    schema_cache_path: str | None

    def __repr__(self) -> str:
        return f"ConnectionSettings(server_url={self.server_url!r}, api_user={self.api_user!r})"


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def resolve_connection(
    server_url: str | None,
    api_key: str | None,
    api_user: str | None,
    plugin_paths: Sequence[str] | None,
    schema_cache_path: SchemaCachePath,
    environ: Mapping[str, str] | None = None,
) -> ConnectionSettings:
    """Explicit arguments first, then ``SHOTBASE_*``, then the ``FTRACK_*`` fallbacks.

    Args:
        server_url: Server base URL, or None to read ``SHOTBASE_SERVER``/``FTRACK_SERVER``.
        api_key: API key, or None to read ``SHOTBASE_API_KEY``/``FTRACK_API_KEY``.
        api_user: User name, or None to read ``SHOTBASE_API_USER``/``FTRACK_API_USER``, then
            ``USER``/``USERNAME``.
        plugin_paths: Plugin directories, or None to read ``FTRACK_EVENT_PLUGIN_PATH``.
        schema_cache_path: Schema cache directory, ``False`` to disable it, or None to read
            ``FTRACK_API_SCHEMA_CACHE_PATH`` (default: the user cache directory).
        environ: The environment to read (default: ``os.environ``).

    Raises:
        ConfigurationError: If the server URL, key or user cannot be determined.
    """
    env = os.environ if environ is None else environ
    url = server_url or _first(env, "SHOTBASE_SERVER", "FTRACK_SERVER")
    key = api_key or _first(env, "SHOTBASE_API_KEY", "FTRACK_API_KEY")
    user = api_user or _first(env, "SHOTBASE_API_USER", "FTRACK_API_USER", "USER", "USERNAME")
    for value, what in ((url, "server URL"), (key, "API key"), (user, "API user")):
        if not value:
            variable = {"server URL": "SERVER", "API key": "API_KEY", "API user": "API_USER"}[what]
            raise ConfigurationError(
                f"No {what} given: pass it to Session() or set SHOTBASE_{variable}."
            )
    assert url is not None and key is not None and user is not None
    if plugin_paths is None:
        found = _first(env, "SHOTBASE_PLUGIN_PATH", "FTRACK_EVENT_PLUGIN_PATH")
        paths = tuple(part for part in (found or "").split(os.pathsep) if part)
    else:
        paths = tuple(plugin_paths)
    return ConnectionSettings(
        url.rstrip("/"), key, user, paths, _cache_path(schema_cache_path, env)
    )


def _cache_path(value: SchemaCachePath, env: Mapping[str, str]) -> str | None:
    if value is False:
        return None
    if value:
        return str(value)
    found = _first(env, "SHOTBASE_SCHEMA_CACHE_PATH", "FTRACK_API_SCHEMA_CACHE_PATH")
    if found:
        return found
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "shotbase")
