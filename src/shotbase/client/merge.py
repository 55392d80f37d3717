"""The identity map and the decoder that merges server data into it (the hot path).

A query page is a list of entity objects of one type with the same attribute names, so the
merge works column by column rather than row by row: it reads one attribute of every row at
once (``map`` and ``operator.itemgetter``), converts a whole column of references or
datetimes in one call, shares repeated strings, and builds each entity's remote value tuple
with ``zip``. What depends only on the names (the
:class:`~shotbase.client.entity.Shape`, how each column is converted) is worked out once per
entity type and name order: a :class:`_Plan`. Little Python work is left per row.

Repeated strings (foreign keys, enum-like values, names) are stored once per session, and
the identity map keeps one dict per entity type keyed by the primary-key value, so no key
tuple is kept per entity. The parsed JSON is only read, never changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import operator
import threading
from collections.abc import Callable, Iterator, MutableMapping
from itertools import compress
from typing import TYPE_CHECKING, Any

from shotbase.client.entity import PERSISTED, Entity, Shape, shape_of
from shotbase.client.factory import EntityTypes
from shotbase.client.operation import Identity
from shotbase.errors import MalformedResponseError, UnknownEntityTypeError

if TYPE_CHECKING:
    from shotbase.client.session import Session

__all__ = ["EntityIndex", "IdentityMap", "decode_datetime", "paused_gc"]

_UTC = dt.timezone.utc
_LOOSE, _REFERENCE, _COLLECTION, _DATETIME = 0, 1, 2, 3
_PLAIN, _SHARED = 4, 5
_NONE = type(None)
ENTITY_TYPE_KEY = "__entity_type__"
# The table of shared strings is emptied when it grows past this, which bounds its memory.
SHARED_STRINGS_LIMIT = 1 << 14


_gc_lock = threading.Lock()
_gc_pauses = [0, False]  # active pauses, whether the collector was enabled before the first
# Objects moved to the oldest generation since the last full collection (see paused_gc),
# and how many full collections had run when counting started.
_promoted = [0, -1]
PROMOTION_BUDGET = 1_000_000


def _may_promote(young: int) -> bool:
    full_collections = gc.get_stats()[-1]["collections"]
    if full_collections != _promoted[1]:
        _promoted[0], _promoted[1] = 0, full_collections
    _promoted[0] += young
    return _promoted[0] <= PROMOTION_BUDGET


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large answer is merged.

    Merging allocates many long-lived objects, which triggers repeated full collections that
    find nothing to free (they doubled merge time); nested and concurrent pauses are counted.

    When the last pause ends after a merge that left more new objects than the youngest
    generation holds, every tracked object is moved to the oldest generation (``gc.freeze``
    then ``gc.unfreeze``, which only splices lists) instead of being examined by the young
    collections, and then by the middle ones, first: the new entities live as long as the
    session. The oldest generation is still collected as usual; once a million objects were
    moved without a full collection in between, merges leave their objects to the young
    collections again (whose survivors lead to the next full collection). Nothing is moved
    when the application has frozen objects itself, since ``gc.unfreeze`` would undo that.
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
                young = gc.get_count()[0]
                threshold = gc.get_threshold()[0]
                if 0 < threshold < young and gc.get_freeze_count() == 0 and _may_promote(young):
                    gc.freeze()
                    gc.unfreeze()
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


_entity_type_of = operator.itemgetter(ENTITY_TYPE_KEY)


def _index_key(key: tuple[str, ...]) -> Any:
    if type(key) is not tuple:
        return (key,)  # not an identity's key: stored and found apart from every real one
    return key[0] if len(key) == 1 else key


class EntityIndex(MutableMapping[Identity, Entity]):
    """Entities by identity, stored as one dict per entity type keyed by the primary key.

    A single-attribute key is stored as its string, so the index keeps no tuple per entity.
    The index also holds the table of strings its entities share (see :class:`IdentityMap`).
    """

    def __init__(self) -> None:
        """An empty index."""
        self._types: dict[str, dict[Any, Entity]] = {}
        self.shared_strings: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"EntityIndex({len(self)} entities)"

    def of_type(self, entity_type: str) -> dict[Any, Entity]:
        """The dict holding the entities of ``entity_type`` (kept for the index's life)."""
        table = self._types.get(entity_type)
        if table is None:
            table = self._types.setdefault(entity_type, {})
        return table

    def __getitem__(self, identity: Identity) -> Entity:
        table = self._types.get(identity[0])
        if table is None:
            raise KeyError(identity)
        try:
            return table[_index_key(identity[1])]
        except KeyError:
            raise KeyError(identity) from None

    def get(  # type: ignore[override]
        self, identity: Identity, default: Entity | None = None
    ) -> Entity | None:
        """The entity with ``identity``, or ``default``."""
        table = self._types.get(identity[0])
        return default if table is None else table.get(_index_key(identity[1]), default)

    def __contains__(self, identity: object) -> bool:
        if not isinstance(identity, tuple) or len(identity) != 2:
            return False
        table = self._types.get(identity[0])
        return table is not None and _index_key(identity[1]) in table

    def __setitem__(self, identity: Identity, entity: Entity) -> None:
        self.of_type(identity[0])[_index_key(identity[1])] = entity

    def setdefault(self, identity: Identity, default: Any = None) -> Any:
        """The entity with ``identity``, storing ``default`` first if there is none."""
        return self.of_type(identity[0]).setdefault(_index_key(identity[1]), default)

    def __delitem__(self, identity: Identity) -> None:
        table = self._types.get(identity[0])
        if table is None:
            raise KeyError(identity)
        try:
            del table[_index_key(identity[1])]
        except KeyError:
            raise KeyError(identity) from None

    def __iter__(self) -> Iterator[Identity]:
        for entity_type, table in list(self._types.items()):
            for key in list(table):
                yield entity_type, (key,) if type(key) is str else key

    def __len__(self) -> int:
        return sum(len(table) for table in list(self._types.values()))

    def clear(self) -> None:
        """Forget every entity (the per-type dicts stay, emptied)."""
        for table in list(self._types.values()):
            table.clear()
        self.shared_strings.clear()


class _Plan:
    """How rows of one entity type with one name order become remote value tuples."""

    __slots__ = ("shape", "is_reference", "columns", "read")

    def __init__(
        self, names: tuple[str, ...], primary_key: tuple[str, ...], kinds: dict[str, int]
    ) -> None:
        stored = tuple(name for name in names if name != ENTITY_TYPE_KEY)
        self.shape: Shape = shape_of(stored)
        # Only the key: the server refers to an entity it already sent in this answer.
        self.is_reference = len(stored) == len(primary_key)
        # Each stored name, how to read it from a row and how its values are converted.
        self.columns = tuple(
            (name, operator.itemgetter(name), kinds.get(name, _PLAIN)) for name in stored
        )
        self.read = operator.itemgetter(*stored)


class _TypeEntry:
    """What the merge needs about one entity type: its class, entities and plans."""

    __slots__ = ("cls", "kinds", "primary_key", "key_name", "read_key", "entities", "plans")

    def __init__(self, cls: type[Entity], entities: dict[Any, Entity]) -> None:
        info = cls.info
        # String values (foreign keys, enum-like values, names) are shared between entities.
        kinds = dict.fromkeys(info.strings - set(info.primary_key), _SHARED)
        kinds.update(dict.fromkeys(info.loose, _LOOSE))
        kinds.update(dict.fromkeys(info.references, _REFERENCE))
        kinds.update(dict.fromkeys(info.collections, _COLLECTION))
        kinds.update(dict.fromkeys(info.datetimes, _DATETIME))
        self.cls = cls
        self.kinds = kinds
        self.primary_key = info.primary_key
        self.key_name = self.primary_key[0] if len(self.primary_key) == 1 else None
        self.read_key = operator.itemgetter(self.key_name or "")
        self.entities = entities
        self.plans: dict[tuple[str, ...], _Plan] = {}

    def plan(self, names: tuple[str, ...]) -> _Plan:
        """The plan for rows with ``names`` (made on first use).

        Raises:
            MalformedResponseError: If ``names`` lacks a primary-key attribute.
        """
        plan = self.plans.get(names)
        if plan is None:
            missing = [name for name in self.primary_key if name not in names]
            if missing:
                raise MalformedResponseError(
                    f"A {self.cls.entity_type} in the response has no value for its key "
                    f"{missing[0]!r}."
                )
            plan = self.plans[names] = _Plan(names, self.primary_key, self.kinds)
        return plan

    def new(self, session: Session) -> Entity:
        """A persisted entity of this type with no values yet."""
        cls = self.cls
        if cls.__init__ is not Entity.__init__:
            return cls(session)  # a plugin's class may need its own __init__
        entity = cls.__new__(cls)
        entity.session = session
        entity._local_values = None
        entity._state = PERSISTED
        return entity


class IdentityMap:
    """Entities of one session by identity, and the merge of decoded data into them."""

    def __init__(self, session: Session, types: EntityTypes) -> None:
        """An empty map for ``session`` whose classes come from ``types``."""
        self.entities = EntityIndex()
        self._session = session
        self._types = types
        self._entries: dict[str, _TypeEntry] = {}
        self._strings = self.entities.shared_strings
        self.on_merge: Callable[[Entity], None] | None = None

    def __repr__(self) -> str:
        return f"IdentityMap({len(self.entities)} entities)"

    def _entry(self, name: str) -> _TypeEntry:
        if name not in self._types:
            raise UnknownEntityTypeError(name, self._types)
        entry = self._entries[name] = _TypeEntry(self._types[name], self.entities.of_type(name))
        return entry

    def merge(self, value: Any) -> Any:
        """Merge every entity inside ``value`` and return it with entities in their place.

        Raises:
            MalformedResponseError: If an entity object lacks a primary-key value.
            UnknownEntityTypeError: If an entity object names a type the schema lacks.
        """
        kind = type(value)
        if kind is dict:
            entity_type = value.get(ENTITY_TYPE_KEY)
            if entity_type is not None:
                return self.merge_entity(entity_type, value)
            if "__type__" in value:
                return decode_datetime(value)
            return {key: self.merge(item) for key, item in value.items()}
        if kind is list:
            merged = self._merge_rows(value)
            if merged is not None:
                return merged
            return [self.merge(item) for item in value]
        return value

    def merge_entity(self, entity_type: str, data: dict[str, Any]) -> Entity:
        """Merge one entity object (see :meth:`merge`)."""
        entry = self._entries.get(entity_type)
        if entry is None:
            entry = self._entry(entity_type)
        names = tuple(data)
        plan = entry.plan(names)
        if entry.key_name is None:
            key: Any = tuple([str(data[name]) for name in entry.primary_key])
        else:
            key = data[entry.key_name]
            if type(key) is not str:
                key = str(key)
        if plan.is_reference:
            entity = entry.entities.get(key)
            if entity is not None:
                return entity
        columns = self._read(plan, [data])
        assert columns is not None  # the plan was made from these names
        merged: Entity = self._merge_columns(entry, plan, columns, [key])[0]
        return merged

    def _merge_rows(self, rows: list[Any]) -> list[Any] | None:
        """Merge a list of entity objects at once, or return None.

        A query page is such a list, and so is the column of a reference (``parent`` of each
        task). Rows are grouped by entity type and merged group by group (see
        :meth:`_merge_group`). Lists holding anything but entity objects, or an entity type
        with a composite key, return None and are merged one item at a time.
        """
        count = len(rows)
        if count < 2 or type(rows[0]) is not dict or ENTITY_TYPE_KEY not in rows[0]:
            return None
        try:
            # Anything but an entity object raises here: None, lists, strings, other dicts.
            types = list(map(_entity_type_of, rows))
        except (KeyError, TypeError):
            return None
        first = types[0]
        if type(first) is str and types.count(first) == count:
            kinds: Any = (first,)
        elif set(map(type, types)) == {str}:
            kinds = dict.fromkeys(types)
        else:
            return None
        entries = [self._entries.get(kind) or self._entry(kind) for kind in kinds]
        if any(entry.key_name is None for entry in entries):
            return None
        if len(entries) == 1:
            return self._merge_group(entries[0], rows)
        merged: list[Any] = [None] * count
        for kind, entry in zip(kinds, entries, strict=True):
            chosen = list(map(kind.__eq__, types))
            group = self._merge_group(entry, list(compress(rows, chosen)))
            if group is None:
                return None
            for position, entity in zip(compress(range(count), chosen), group, strict=True):
                merged[position] = entity
        return merged

    def _merge_group(self, entry: _TypeEntry, rows: list[Any]) -> list[Any] | None:
        """Merge entity objects of one type with a one-attribute key, or return None.

        A query page (rows of one size with distinct keys) is merged column by column at
        once (see :meth:`_merge_columns`). Other lists are split by row size first: a
        reference column mixes full rows with rows holding only the key (the server's
        reference to an entity it already sent), which just make sure the entity exists.
        Rows repeating an entity with the same names are merged once: an answer describes
        each entity consistently.
        """
        count = len(rows)
        try:
            keys = list(map(entry.read_key, rows))
        except KeyError:
            return None  # merged one by one, which names the missing key
        if set(map(type, keys)) != {str}:
            keys = list(map(str, keys))
        sizes = list(map(len, rows))
        if sizes.count(sizes[0]) == count:
            if len(set(keys)) == count:
                plan = entry.plan(tuple(rows[0]))
                columns = None if plan.is_reference else self._read(plan, rows)
                if columns is not None:
                    return self._merge_columns(entry, plan, columns, keys)
            self._merge_some(entry, rows, keys)
        else:
            # Longest rows first, so that key-only rows find their entity already made.
            for size in sorted(set(sizes), reverse=True):
                chosen = list(map(size.__eq__, sizes))
                self._merge_some(entry, list(compress(rows, chosen)), list(compress(keys, chosen)))
        return list(map(entry.entities.__getitem__, keys))

    def _merge_some(self, entry: _TypeEntry, rows: list[Any], keys: list[Any]) -> None:
        """Merge rows of one size, each distinct entity once."""
        if len(set(keys)) != len(keys):
            distinct = dict(zip(keys, rows, strict=True))
            rows, keys = list(distinct.values()), list(distinct)
        plan = entry.plan(tuple(rows[0]))
        if plan.is_reference:
            missing = list(map(operator.not_, map(entry.entities.__contains__, keys)))
            if any(missing):
                rows, keys = list(compress(rows, missing)), list(compress(keys, missing))
                self._merge_columns(entry, plan, self._read(plan, rows) or [], keys)
            return
        columns = self._read(plan, rows)
        if columns is not None:
            self._merge_columns(entry, plan, columns, keys)
            return
        names = list(map(tuple, rows))  # rows of one size with other names: rare
        for kind in dict.fromkeys(names):
            chosen = list(map(kind.__eq__, names))
            self._merge_some(entry, list(compress(rows, chosen)), list(compress(keys, chosen)))

    @staticmethod
    def _read(plan: _Plan, rows: list[Any]) -> list[Any] | None:
        """Each stored attribute's values in ``rows``, or None if a row lacks one."""
        try:
            if len(plan.columns) == 1:
                return [list(map(plan.columns[0][1], rows))]
            # One call per row reads every attribute; zip turns the rows into columns.
            return list(zip(*map(plan.read, rows), strict=True))
        except KeyError:
            return None

    def _merge_columns(
        self, entry: _TypeEntry, plan: _Plan, columns: list[Any], keys: list[Any]
    ) -> list[Any]:
        """Merge rows given as ``columns`` (one per stored name; distinct ``keys``).

        Sharing strings and converting references per column, then building the value
        tuples with ``zip``, leaves little Python work per row.
        """
        entity_type = entry.cls.entity_type
        converted: list[Any] = [itertools.repeat(plan.shape, len(keys))]
        converted += [
            self._column(entity_type, column, name, kind)
            for column, (name, _, kind) in zip(columns, plan.columns, strict=True)
        ]
        return self._adopt(entry, keys, zip(*converted, strict=True))

    def _column(self, entity_type: str, column: Any, name: str, kind: int) -> Any:
        """The values of attribute ``name`` ready to store."""
        if kind == _PLAIN:
            return column
        if kind == _SHARED:
            return self._share(column)
        if kind == _REFERENCE:
            return self._merge_references(column)
        if kind == _COLLECTION:
            for item in column:
                if type(item) is not list:
                    raise MalformedResponseError(
                        f"{entity_type}.{name} must be a list of entities, "
                        f"got {type(item).__name__}."
                    )
            # Every row's members merged as one list, then cut back into one list per row.
            members = self.merge(list(itertools.chain.from_iterable(column)))
            ends = list(itertools.accumulate(map(len, column)))
            return [members[end - len(item) : end] for item, end in zip(column, ends, strict=True)]
        if kind == _DATETIME:
            return [decode_datetime(item) if type(item) is dict else item for item in column]
        return [self.merge(item) if type(item) is dict else item for item in column]

    def _merge_references(self, column: Any) -> list[Any]:
        """A column of references merged as one list; empty references stay None."""
        if None not in column:
            merged: list[Any] = self.merge(list(column))
            return merged
        present = list(map(operator.is_not, column, itertools.repeat(None)))
        found = iter(self.merge(list(compress(column, present))))
        return [next(found) if flag else None for flag in present]

    def _share(self, column: Any) -> Any:
        """``column`` with each string replaced by the equal one stored first."""
        strings = self._strings
        if len(strings) > SHARED_STRINGS_LIMIT:
            strings.clear()
        first = column[0]
        if type(first) is str and column[-1] == first and column.count(first) == len(column):
            # One value for every row (a project id, a type): compared, never hashed.
            return [strings.setdefault(first, first)] * len(column)
        if set(map(type, column)) <= {str, _NONE}:
            return list(map(strings.setdefault, column, column))
        return [strings.setdefault(item, item) if type(item) is str else item for item in column]

    def _adopt(
        self, entry: _TypeEntry, keys: list[Any], rows: Iterator[tuple[Any, ...]]
    ) -> list[Any]:
        """Entities for ``keys`` holding the value tuples ``rows``, made or updated."""
        entities, cls, session = entry.entities, entry.cls, self._session
        merged: list[Any]
        if cls.__init__ is Entity.__init__ and keys[0] not in entities:
            # Most likely all new (a first query): make them all, then keep any that a
            # previous answer made instead, updated.
            made: list[Any] = []
            append = made.append
            new = cls.__new__
            for values in rows:
                entity = new(cls)
                entity.session = session
                entity._local_values = None
                entity._state = PERSISTED
                entity._values = values
                append(entity)
            merged = list(map(entities.setdefault, keys, made))
            clashes = list(map(operator.is_not, merged, made))
            if any(clashes):
                for known, entity in compress(zip(merged, made, strict=True), clashes):
                    if entity._values != known._values:
                        known._merge_values(entity._values)
        else:
            merged = list(map(entities.get, keys))
            for position, (known, values) in enumerate(zip(merged, rows, strict=True)):
                if known is None:
                    known = merged[position] = entities[keys[position]] = entry.new(session)
                    known._values = values
                elif values != known._values:
                    known._merge_values(values)
        if self.on_merge is not None:
            for entity in merged:
                self.on_merge(entity)
        return merged

    def add(self, entity: Entity) -> Entity:
        """Register a new local entity (first one wins for an identity)."""
        result: Entity = self.entities.setdefault(entity.identity, entity)
        return result

    def discard(self, identity: Identity) -> None:
        """Forget the entity with ``identity``, if any."""
        self.entities.pop(identity, None)
