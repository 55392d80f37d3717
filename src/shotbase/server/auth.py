"""Authenticate requests by the ``ftrack-user`` / ``ftrack-api-key`` headers the clients send."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from shotbase.errors import AuthenticationError
from shotbase.server.state import ServerState
from shotbase.store.accounts import Account, authenticate, hash_key

__all__ = ["Authenticator"]

CACHE_SECONDS = 30.0
CACHE_SIZE = 1024


class Authenticator:
    """Checks credentials against the database, remembering good ones for a few seconds."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._cache: OrderedDict[tuple[str, str], tuple[float, Account]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Authenticator(cached={len(self._cache)})"

    def remembered(self, username: str | None, api_key: str | None) -> Account | None:
        """The account for these credentials if they were checked in the last few seconds;
        no I/O, so the event loop can ask before handing :meth:`check` to a thread.

        Raises:
            AuthenticationError: If either is missing.
        """
        if not username or not api_key:
            raise AuthenticationError(
                "The request has no credentials: send the ftrack-user and ftrack-api-key headers."
            )
        cache_key = (username, hash_key(api_key))
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
                return cached[1]
        return None

    def check(self, username: str | None, api_key: str | None) -> Account:
        """The account for these credentials.

        Raises:
            AuthenticationError: If either is missing or they do not match a user and key.
        """
        remembered = self.remembered(username, api_key)
        if remembered is not None:
            return remembered
        assert username and api_key  # remembered() raised otherwise
        cache_key = (username, hash_key(api_key))
        now = time.monotonic()
        with self.state.database.transaction(write=False) as connection:
            account = authenticate(self.state.tables, connection, username, api_key)
        if account is None:
            raise AuthenticationError(f"The API key is not valid for user {username!r}.")
        with self._lock:
            self._cache[cache_key] = (now, account)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return account
