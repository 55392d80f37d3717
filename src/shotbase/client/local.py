"""An in-process shotbase server for ``Session.local`` (the only client module that imports it).

Tests and pipeline unit tests get a real server (real schema, real SQLite database, real
``/api`` route) without a port or another process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from shotbase.client.transport import AsgiTransport

__all__ = ["open_local_server"]

logger = logging.getLogger(__name__)

KEY_FILE = "local-api-key"
ADMIN = "admin"


def open_local_server(path: Path) -> tuple[AsgiTransport, str, str]:
    """Open (or create) a server over ``path``/shotbase.sqlite.

    Returns:
        The transport, the user name and its API key.
    """
    from shotbase.server.app import create_app
    from shotbase.server.state import ServerState, prepare_database
    from shotbase.settings import Settings
    from shotbase.store.accounts import issue_key

    path.mkdir(parents=True, exist_ok=True)
    settings = Settings(data=str(path))
    state = ServerState.open(settings)
    key_file = path / KEY_FILE
    api_key = prepare_database(state, ADMIN)
    if api_key is None and key_file.exists():
        api_key = key_file.read_text().strip()
    if api_key is None:
        with state.database.transaction(write=True) as connection:
            api_key = issue_key(state.tables, connection, ADMIN)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(api_key)
    logger.debug("local server on %s", path)
    return AsgiTransport(create_app(settings, state), on_close=state.close), ADMIN, api_key
