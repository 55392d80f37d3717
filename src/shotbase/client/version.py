"""The server version check of the ftrack-style client (PROTOCOL.md 8.2)."""

from __future__ import annotations

import re
from typing import Any

from shotbase.errors import ServerCompatibilityError

__all__ = ["MINIMUM_SERVER_VERSION", "check_server_version"]

MINIMUM_SERVER_VERSION = (3, 3, 11)
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


def check_server_version(version: Any) -> None:
    """Accept ``dev``, unparsable versions and anything at least 3.3.11.

    Raises:
        ServerCompatibilityError: If ``version`` is missing or older than 3.3.11.
    """
    if not version:
        raise ServerCompatibilityError("Could not determine server version.")
    found = _VERSION.match(str(version))
    if found is None:
        return
    parsed = tuple(int(part) for part in found.groups())
    if parsed < MINIMUM_SERVER_VERSION:
        minimum = ".".join(str(part) for part in MINIMUM_SERVER_VERSION)
        raise ServerCompatibilityError(
            f"Server version {version} is not compatible with this client; need {minimum} or later."
        )
