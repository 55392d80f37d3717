"""Fixtures for the official ftrack client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ftrack_api
import pytest

from tests.conftest import ServerProcess


def official_session(server: ServerProcess, **options: Any) -> Any:
    """A new official client session on ``server``."""
    options.setdefault("schema_cache_path", False)
    options.setdefault("auto_connect_event_hub", False)
    return ftrack_api.Session(
        server_url=server.url, api_key=server.api_key, api_user=server.api_user, **options
    )


@pytest.fixture
def session(server: ServerProcess) -> Iterator[Any]:
    """An official client session, closed after the test."""
    opened = official_session(server)
    yield opened
    opened.close()
