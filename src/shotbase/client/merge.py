"""The identity map and the decoder that merges server data into it (the hot path).

Decoding and merging are one pass over the parsed JSON: each entity object is looked up by
``(type, primary key)``; a new entity adopts the parsed dict as its remote values and a known
one is updated from it, so a row costs a few dict operations in C and no per-attribute
objects. Only references, collections, datetimes and free-form JSON values are visited.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from shotbase.client.entity import Entity
from shotbase.client.factory import EntityTypes
from shotbase.client.operation import Identity
from shotbase.errors import MalformedResponseError, UnknownEntityTypeError

if TYPE_CHECKING:
    from shotbase.client.session import Session

__all__ = ["IdentityMap", "decode_datetime", "paused_gc"]

_UTC = dt.timezone.utc
_LOOSE, _REFERENCE, _COLLECTION, _DATETIME = 0, 1, 2, 3
_ClassEntry = tuple[type[Entity], dict[str, int], tuple[str, ...]]


_gc_lock = threading.Lock()
_gc_pauses = [0, False]  # active pauses, whether the collector was enabled before the first


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large answer is merged.

    Merging allocates many long-lived objects, which triggers repeated full collections that
    find nothing to free (they doubled merge time); nested and concurrent pauses are counted.
    """
    with _gc_lock:
        if _gc_pauses[0] == 0:
            _gc_pauses[1] = gc.isenabled()
            gc.disable()
        _gc_pauses[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses[0] -= 1
            if _gc_pauses[0] == 0 and _gc_pauses[1]:
                gc.enable()


def decode_datetime(value: dict[str, Any]) -> Any:
    """A ``{"__type__": "datetime"|"date", "value": ...}`` object as a Python value (UTC)."""
    tag, text = value.get("__type__"), value.get("value")
    if not isinstance(text, str):
        return value
    if tag == "date":
        return dt.date.fromisoformat(text)
    if tag == "datetime":
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        parsed = dt.datetime.fromisoformat(text)
        return parsed.replace(tzinfo=_UTC) if parsed.tzinfo is None else parsed
    return value


class IdentityMap:
    """Entities of one session by identity, and the merge of decoded data into them."""

    def __init__(self, session: Session, types: EntityTypes) -> None:
        """An empty map for ``session`` whose classes come from ``types``."""
        self.entities: dict[Identity, Entity] = {}
        self._session = session
        self._types = types
        self._classes: dict[str, _ClassEntry] = {}
        self.on_merge: Callable[[Entity], None] | None = None

    def __repr__(self) -> str:
        return f"IdentityMap({len(self.entities)} entities)"

    def _class(self, name: str) -> _ClassEntry:
        if name not in self._types:
            raise UnknownEntityTypeError(name, self._types)
        cls = self._types[name]
        info = cls.info
        special = dict.fromkeys(info.loose, _LOOSE)
        special.update(dict.fromkeys(info.references, _REFERENCE))
        special.update(dict.fromkeys(info.collections, _COLLECTION))
        special.update(dict.fromkeys(info.datetimes, _DATETIME))
        entry = self._classes[name] = (cls, special, info.primary_key)
        return entry

    def merge(self, value: Any) -> Any:
        """Merge every entity inside ``value`` and return it with entities in their place.

        Raises:
            MalformedResponseError: If an entity object lacks a primary-key value.
            UnknownEntityTypeError: If an entity object names a type the schema lacks.
        """
        kind = type(value)
        if kind is dict:
            entity_type = value.get("__entity_type__")
            if entity_type is not None:
                return self.merge_entity(entity_type, value)
            if "__type__" in value:
                return decode_datetime(value)
            return {key: self.merge(item) for key, item in value.items()}
        if kind is list:
            merge = self.merge
            return [merge(item) for item in value]
        return value

    def merge_entity(self, entity_type: str, data: dict[str, Any]) -> Entity:
        """Merge one entity object (see :meth:`merge`)."""
        entry = self._classes.get(entity_type)
        if entry is None:
            entry = self._class(entity_type)
        cls, special, primary_key = entry
        try:
            if len(primary_key) == 1:
                value = data[primary_key[0]]
                key: tuple[str, ...] = (value if type(value) is str else str(value),)
            else:
                key = tuple([str(data[name]) for name in primary_key])
        except KeyError as exc:
            raise MalformedResponseError(
                f"A {entity_type} in the response has no value for its key {exc.args[0]!r}."
            ) from None
        identity = (entity_type, key)
        entity = self.entities.get(identity)
        if entity is None:
            # The parsed dict itself becomes the remote storage: no copy per entity.
            entity = cls(self._session)
            entity._remote = remote = data
            self.entities[identity] = entity
        else:
            # Convert a copy, then apply it in one update, so readers never see raw values.
            remote = dict(data)
        for name in special.keys() & data.keys():
            kind, item = special[name], data[name]
            if kind == _REFERENCE:
                if type(item) is dict and "__entity_type__" in item:
                    remote[name] = self.merge_entity(item["__entity_type__"], item)
                else:
                    remote[name] = None if item is None else self.merge(item)
            elif kind == _COLLECTION:
                if type(item) is not list:
                    raise MalformedResponseError(
                        f"{entity_type}.{name} must be a list of entities, "
                        f"got {type(item).__name__}."
                    )
                remote[name] = [self.merge(member) for member in item]
            elif type(item) is dict:
                remote[name] = decode_datetime(item) if kind == _DATETIME else self.merge(item)
        if remote is not data:
            entity._remote.update(remote)
        if self.on_merge is not None:
            self.on_merge(entity)
        return entity

    def merge_into(self, entity: Entity, remote: dict[str, Any]) -> None:
        """Copy decoded remote values onto ``entity`` (values already merged)."""
        entity._remote.update(remote)

    def add(self, entity: Entity) -> Entity:
        """Register a new local entity (first one wins for an identity)."""
        return self.entities.setdefault(entity.identity, entity)

    def discard(self, identity: Identity) -> None:
        """Forget the entity with ``identity``, if any."""
        self.entities.pop(identity, None)
