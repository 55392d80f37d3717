"""Connection settings of the SFTP accessor: explicit arguments first, then the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shotbase.errors import ConfigurationError

__all__ = ["ENV_PREFIXES", "SFTPSettings", "resolve_sftp_settings"]

ENV_PREFIXES = ("SHOTBASE_SFTP_", "FTRACK_SFTP_ACCESSOR_")


@dataclass(frozen=True, slots=True)
class SFTPSettings:
    """Where and how to connect; see :func:`resolve_sftp_settings`."""

    hostname: str
    port: int = 22
    username: str | None = None
    password: str | None = None
    folder: str = ""
    known_hosts: str | None = None
    key_filename: str | None = None

    def __repr__(self) -> str:
        shown = "'***'" if self.password else "None"
        return (
            f"SFTPSettings(hostname={self.hostname!r}, port={self.port}, username="
            f"{self.username!r}, password={shown}, folder={self.folder!r})"
        )


def resolve_sftp_settings(
    hostname: str | None = None,
    username: str | None = None,
    port: int | None = None,
    password: str | None = None,
    folder: str | None = None,
    known_hosts: str | None = None,
    key_filename: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SFTPSettings:
    """Resolve connection settings: explicit arguments first, then the environment.

    For each setting, the explicit argument wins; then ``SHOTBASE_SFTP_<NAME>``; then, for
    drop-in use with ftrack setups, ``FTRACK_SFTP_ACCESSOR_<NAME>``. Names: ``HOSTNAME``,
    ``PORT``, ``USERNAME``, ``PASSWORD``, ``FOLDER``, ``KNOWN_HOSTS``, ``KEY_FILENAME``.

    Args:
        hostname: Server name or address.
        username: Login name (default: the local user, as ssh does).
        port: TCP port (default 22).
        password: Password; without one, SSH keys (``key_filename``, the agent,
            ``~/.ssh/id_*``) are used.
        folder: Remote folder all resource identifiers are relative to (default: the login
            folder).
        known_hosts: Path of a known_hosts file to check the host key against.
        key_filename: Path of a private key file to log in with.
        environ: The environment to read (default ``os.environ``).
    Returns:
        The resolved settings.
    Raises:
        ConfigurationError: If no hostname is given anywhere or the port is not a number.
    """
    env = os.environ if environ is None else environ

    def pick(value: str | None, name: str) -> tuple[str | None, str]:
        if value is not None:
            return value, name.lower()
        for prefix in ENV_PREFIXES:
            if env.get(prefix + name):
                return env[prefix + name], prefix + name
        return None, name.lower()

    host, _ = pick(hostname, "HOSTNAME")
    if not host:
        raise ConfigurationError(
            "SFTP accessor needs a hostname: pass host= or set SHOTBASE_SFTP_HOSTNAME"
        )
    port_text, port_source = pick(None if port is None else str(port), "PORT")
    try:
        resolved_port = int(port_text) if port_text else 22
    except ValueError as error:
        raise ConfigurationError(f"{port_source}={port_text!r} is not a valid int") from error
    return SFTPSettings(
        hostname=host,
        port=resolved_port,
        username=pick(username, "USERNAME")[0],
        password=pick(password, "PASSWORD")[0],
        folder=pick(folder, "FOLDER")[0] or "",
        known_hosts=pick(known_hosts, "KNOWN_HOSTS")[0],
        key_filename=pick(key_filename, "KEY_FILENAME")[0],
    )
