"""Caches: a memory cache, a persistent file cache, and layering, proxying, serialising.

Every cache offers ``get`` (raising ``KeyError`` on a miss), ``set``, ``remove``, ``keys`` and
``clear``. The session's own identity map is always the top, in-memory layer; a cache passed to
``Session(cache=...)`` sits below it and receives entities as they are merged.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

__all__ = [
    "Cache",
    "FileCache",
    "KeyMaker",
    "LayeredCache",
    "MemoryCache",
    "ObjectKeyMaker",
    "ProxyCache",
    "SerialisedCache",
    "StringKeyMaker",
]


class Cache(Protocol):
    """A key/value store for entities or their serialised form."""

    def get(self, key: str) -> Any:
        """The value stored under ``key``.

        Raises:
            KeyError: If nothing is stored under ``key``.
        """
        ...

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``."""
        ...

    def remove(self, key: str) -> None:
        """Remove ``key``.

        Raises:
            KeyError: If nothing is stored under ``key``.
        """
        ...

    def keys(self) -> list[str]:
        """Every stored key."""
        ...

    def clear(self) -> None:
        """Remove every key."""
        ...


class MemoryCache:
    """A thread-safe dict."""

    def __init__(self) -> None:
        """Start empty."""
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryCache({len(self._values)} keys)"

    def get(self, key: str) -> Any:
        """The value under ``key``; raises ``KeyError`` on a miss."""
        return self._values[key]

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``."""
        with self._lock:
            self._values[key] = value

    def remove(self, key: str) -> None:
        """Remove ``key``; raises ``KeyError`` when absent."""
        with self._lock:
            del self._values[key]

    def keys(self) -> list[str]:
        """Every stored key."""
        return list(self._values)

    def clear(self) -> None:
        """Remove every key."""
        with self._lock:
            self._values.clear()


class FileCache:
    """A persistent cache in one SQLite file, safe for several processes and threads.

    Values are pickled; wrap it in a :class:`SerialisedCache` to store entities as JSON text.
    Writes are atomic transactions, and SQLite's locking lets several processes on one
    machine share the file.
    """

    def __init__(self, path: str | Path) -> None:
        """Open (or create) the cache file at ``path``."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
        )

    def __repr__(self) -> str:
        return f"FileCache(path={str(self.path)!r})"

    def get(self, key: str) -> Any:
        """The value under ``key``; raises ``KeyError`` on a miss."""
        with self._lock:
            row = self._connection.execute(
                "SELECT value FROM cache WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            raise KeyError(key)
        return pickle.loads(row[0])

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``."""
        blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO cache (key, value) VALUES (?, ?)", (key, blob)
            )

    def remove(self, key: str) -> None:
        """Remove ``key``; raises ``KeyError`` when absent."""
        with self._lock:
            removed = self._connection.execute("DELETE FROM cache WHERE key = ?", (key,)).rowcount
        if not removed:
            raise KeyError(key)

    def keys(self) -> list[str]:
        """Every stored key."""
        with self._lock:
            return [row[0] for row in self._connection.execute("SELECT key FROM cache")]

    def clear(self) -> None:
        """Remove every key."""
        with self._lock:
            self._connection.execute("DELETE FROM cache")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._connection.close()


class ProxyCache:
    """Passes every call to another cache; a base for caches that adapt one."""

    def __init__(self, proxied: Cache) -> None:
        """Wrap ``proxied``."""
        self.proxied = proxied

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.proxied!r})"

    def get(self, key: str) -> Any:
        """The value under ``key``; raises ``KeyError`` on a miss."""
        return self.proxied.get(key)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``."""
        self.proxied.set(key, value)

    def remove(self, key: str) -> None:
        """Remove ``key``; raises ``KeyError`` when absent."""
        self.proxied.remove(key)

    def keys(self) -> list[str]:
        """Every stored key."""
        return self.proxied.keys()

    def clear(self) -> None:
        """Remove every key."""
        self.proxied.clear()


class SerialisedCache(ProxyCache):
    """Encodes values on the way in and decodes them on the way out."""

    def __init__(
        self,
        proxied: Cache,
        encode: Callable[[Any], Any] | None = None,
        decode: Callable[[Any], Any] | None = None,
    ) -> None:
        """Wrap ``proxied``; ``encode``/``decode`` default to identity.

        Typical use: ``SerialisedCache(FileCache(path), encode=session.encode,
        decode=session.decode)``.
        """
        super().__init__(proxied)
        self.encode = encode
        self.decode = decode

    def get(self, key: str) -> Any:
        """The decoded value under ``key``; raises ``KeyError`` on a miss."""
        value = self.proxied.get(key)
        return self.decode(value) if self.decode is not None else value

    def set(self, key: str, value: Any) -> None:
        """Encode ``value`` and store it under ``key``."""
        self.proxied.set(key, self.encode(value) if self.encode is not None else value)


class LayeredCache:
    """Several caches, fastest first: reads fall through and fill the layers above a hit."""

    def __init__(self, caches: Sequence[Cache]) -> None:
        """Layer ``caches``, the first being consulted first."""
        self.caches: list[Cache] = list(caches)

    def __repr__(self) -> str:
        return f"LayeredCache({self.caches!r})"

    def get(self, key: str) -> Any:
        """The value from the first layer that has ``key``; raises ``KeyError`` on a miss."""
        missed: list[Cache] = []
        for cache in self.caches:
            try:
                value = cache.get(key)
            except KeyError:
                missed.append(cache)
                continue
            for upper in missed:
                upper.set(key, value)
            return value
        raise KeyError(key)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` in every layer."""
        for cache in self.caches:
            cache.set(key, value)

    def remove(self, key: str) -> None:
        """Remove ``key`` from every layer; raises ``KeyError`` if no layer had it."""
        found = False
        for cache in self.caches:
            try:
                cache.remove(key)
            except KeyError:
                continue
            found = True
        if not found:
            raise KeyError(key)

    def keys(self) -> list[str]:
        """Keys of every layer, without duplicates."""
        seen: dict[str, None] = {}
        for cache in self.caches:
            seen.update(dict.fromkeys(cache.keys()))
        return list(seen)

    def clear(self) -> None:
        """Clear every layer."""
        for cache in self.caches:
            cache.clear()


class KeyMaker(Protocol):
    """Turns items (entity type, key values...) into a cache key."""

    def key(self, *items: Any) -> str:
        """The cache key for ``items``."""
        ...


class StringKeyMaker:
    """Joins the items' string forms with a separator."""

    def __init__(self, separator: str = "\x1f") -> None:
        """Use ``separator`` between items."""
        self.separator = separator

    def __repr__(self) -> str:
        return f"StringKeyMaker(separator={self.separator!r})"

    def key(self, *items: Any) -> str:
        """``items`` as strings, joined."""
        return self.separator.join(str(item) for item in items)


class ObjectKeyMaker:
    """Serialises the items (any JSON values) so that different shapes never collide."""

    def __repr__(self) -> str:
        return "ObjectKeyMaker()"

    def key(self, *items: Any) -> str:
        """``items`` as compact JSON with sorted keys."""
        return orjson.dumps(_plain(items), option=orjson.OPT_SORT_KEYS).decode()


def _plain(items: Iterable[Any]) -> list[Any]:
    return [list(item) if isinstance(item, tuple) else item for item in items]
