"""The server: an ASGI application speaking the ftrack wire protocol."""

from __future__ import annotations

from shotbase.server.app import create_app
from shotbase.server.state import ServerState

__all__ = ["ServerState", "create_app"]
