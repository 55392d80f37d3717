"""Server settings, declared once: the table drives CLI flags, environment variables and docs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from shotbase.errors import ConfigurationError

__all__ = ["SETTINGS", "Setting", "Settings"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, type, default and help text."""

    name: str
    kind: type
    default: Any
    help: str

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return f"SHOTBASE_{self.name.upper()}"

    @property
    def flag(self) -> str:
        """The command-line flag that sets it."""
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        """Read the setting from text.

        Raises:
            ConfigurationError: If the text is not a valid value.
        """
        try:
            return self.kind(text)
        except ValueError:
            raise ConfigurationError(
                f"{self.env}={text!r} is not a valid {self.kind.__name__}."
            ) from None


SETTINGS = (
    Setting("data", str, "./shotbase-data", "Data directory: the SQLite file and stored files."),
    Setting("database", str, "", "SQLAlchemy URL of the database; default: SQLite in --data."),
    Setting("host", str, "127.0.0.1", "Address to listen on."),
    Setting("port", int, 8470, "Port to listen on."),
    Setting("public_url", str, "", "URL clients reach the server at; default: from each request."),
    Setting("redis", str, "", "Redis URL; carries events between server processes."),
    Setting("page_size_limit", int, 1000, "Most entities one query answer holds."),
    Setting("log_level", str, "info", "Logging level: debug, info, warning or error."),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings, read once at start-up and passed down."""

    data: str = "./shotbase-data"
    database: str = ""
    host: str = "127.0.0.1"
    port: int = 8470
    public_url: str = ""
    redis: str = ""
    page_size_limit: int = 1000
    log_level: str = "info"

    @property
    def database_url(self) -> str:
        """The database URL, SQLite in the data directory unless one is given."""
        if self.database:
            return self.database
        return f"sqlite:///{Path(self.data).resolve() / 'shotbase.sqlite'}"

    @classmethod
    def resolve(
        cls, explicit: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from explicit values (CLI), then ``SHOTBASE_*`` variables, then defaults.

        Raises:
            ConfigurationError: If a value is invalid.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            if explicit.get(setting.name) is not None:
                values[setting.name] = explicit[setting.name]
            elif setting.env in environ:
                values[setting.name] = setting.parse(environ[setting.env])
        settings = cls(**values)
        if settings.page_size_limit < 1:
            raise ConfigurationError("page_size_limit must be at least 1.")
        return settings


assert {f.name for f in fields(Settings)} == {s.name for s in SETTINGS}
