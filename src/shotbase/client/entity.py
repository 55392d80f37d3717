"""The entity base class: a dict-like view over local and remote attribute values.

Remote values (last seen on the server) live in one tuple per entity: ``(shape, value,
value, ...)``, where the :class:`Shape` maps attribute names to positions and is shared by
every entity loaded with the same names in the same order (all rows of one query). Local
values (set in this session and not committed) live in a dict that is only made on the first
change. There are no per-attribute objects per entity, which keeps large query results cheap.

The tuple is replaced, never changed in place, so a reader on another thread always sees one
consistent set of remote values.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar

from shotbase.client.attribute import Attributes
from shotbase.client.collection import Collection, CustomAttributes, MetadataMapping
from shotbase.client.schema import AttributeKind, EntityTypeInfo
from shotbase.client.symbol import UNSET
from shotbase.errors import ImmutableAttributeError

if TYPE_CHECKING:
    from shotbase.client.session import Session

__all__ = ["CREATED", "DELETED", "PERSISTED", "Entity", "RemoteValues", "Shape", "shape_of"]

PERSISTED, CREATED, DELETED = 0, 1, 2

# Past this many distinct name orders, new shapes are still correct but no longer shared.
SHAPE_LIMIT = 4096


class Shape(dict[str, int]):
    """Positions of remote values by attribute name (from 1; position 0 holds the shape).

    Shapes are immutable once built and shared between entities and sessions; use
    :func:`shape_of` to get one.
    """

    __slots__ = ("names", "_extensions")

    def __init__(self, names: tuple[str, ...]) -> None:
        """Number ``names`` from 1 (use :func:`shape_of`, which shares shapes)."""
        super().__init__(zip(names, range(1, len(names) + 1), strict=True))
        self.names = names
        self._extensions: dict[tuple[str, ...], tuple[Shape, tuple[int, ...]]] = {}

    def __repr__(self) -> str:
        return f"Shape({self.names!r})"

    def extended(self, names: tuple[str, ...]) -> tuple[Shape, tuple[int, ...]]:
        """The shape holding this one's names then the new ones among ``names``.

        Returns:
            The shape and, for each of ``names``, its position there. Existing names keep
            their positions, so values read with this shape stay valid in the new one.
        """
        found = self._extensions.get(names)
        if found is None:
            added = tuple(name for name in dict.fromkeys(names) if name not in self)
            shape = shape_of(self.names + added) if added else self
            found = (shape, tuple([shape[name] for name in names]))
            if len(self._extensions) < SHAPE_LIMIT:
                self._extensions[names] = found
        return found


_shapes: dict[tuple[str, ...], Shape] = {}


def shape_of(names: tuple[str, ...]) -> Shape:
    """The shared shape for attribute ``names`` in this order."""
    shape = _shapes.get(names)
    if shape is None:
        shape = Shape(names)
        if len(_shapes) < SHAPE_LIMIT:
            shape = _shapes.setdefault(names, shape)
    return shape


EMPTY_VALUES: tuple[Any, ...] = (shape_of(()),)
"""The remote values of an entity the server has told nothing about yet."""

_local_lock = threading.Lock()


def _updated(
    values: tuple[Any, ...], names: tuple[str, ...], new: Iterable[Any]
) -> tuple[Any, ...]:
    """``values`` with ``new`` (one per name of ``names``) set."""
    shape, positions = values[0].extended(names)
    result = list(values)
    result[0] = shape
    result.extend([UNSET] * (len(shape) + 1 - len(result)))
    for position, value in zip(positions, new, strict=True):
        result[position] = value
    return tuple(result)


class RemoteValues(MutableMapping[str, Any]):
    """A dict-like view of an entity's remote values (``entity._remote``).

    Changes replace the entity's value tuple, so they are seen at once and atomically.
    """

    __slots__ = ("_entity",)

    def __init__(self, entity: Entity) -> None:
        """View the remote values of ``entity``."""
        self._entity = entity

    def __repr__(self) -> str:
        return f"RemoteValues({dict(self)!r})"

    def __getitem__(self, name: str) -> Any:
        value = self._entity._remote_value(name)
        if value is UNSET:
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """The remote value of ``name``, or ``default``."""
        value = self._entity._remote_value(name)
        return default if value is UNSET else value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._entity._remote_value(name) is not UNSET

    def __setitem__(self, name: str, value: Any) -> None:
        self._entity._update_remote((name,), (value,))

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._entity._update_remote((name,), (UNSET,))

    def update(self, other: Any = (), /, **values: Any) -> None:
        """Set several remote values in one change."""
        merged = dict(other, **values)
        if merged:
            self._entity._update_remote(tuple(merged), tuple(merged.values()))

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._entity._remote_items())

    def __len__(self) -> int:
        return sum(1 for _ in self._entity._remote_items())


class Entity(MutableMapping[str, Any]):
    """An entity of one type; subclasses are built per type from the server's schema.

    Reading a key returns the local value, else the remote one, else loads it from the server
    (when auto-population is on); unknown keys raise ``KeyError``. Equality and hashing use the
    entity's identity (type and primary key), never attribute values.
    """

    __slots__ = ("session", "_local_values", "_values", "_state", "__weakref__")

    entity_type: ClassVar[str] = "Entity"
    info: ClassVar[EntityTypeInfo]
    attributes: ClassVar[Attributes]
    primary_key_attributes: ClassVar[tuple[str, ...]] = ("id",)
    default_projections: ClassVar[tuple[str, ...]] = ()

    session: Session
    _local_values: dict[str, Any] | None
    _values: tuple[Any, ...]
    _state: int

    def __init__(self, session: Session, state: int = PERSISTED) -> None:
        """Make an empty entity bound to ``session`` (use ``Session.create`` instead)."""
        self.session = session
        self._local_values = None
        self._values = EMPTY_VALUES
        self._state = state

    # Storage ------------------------------------------------------------------------------

    @property
    def _local(self) -> dict[str, Any]:
        """The local values, made on first use (most entities are never changed)."""
        local = self._local_values
        if local is None:
            with _local_lock:
                local = self._local_values
                if local is None:
                    local = self._local_values = {}
        return local

    @property
    def _remote(self) -> RemoteValues:
        """The remote values, as a dict-like view."""
        return RemoteValues(self)

    def _local_value(self, name: str) -> Any:
        """The local value of ``name``, or ``NOT_SET``."""
        local = self._local_values
        return UNSET if local is None else local.get(name, UNSET)

    def _remote_value(self, name: str) -> Any:
        """The remote value of ``name``, or ``NOT_SET``."""
        values = self._values
        position = values[0].get(name)
        return UNSET if position is None else values[position]

    def _remote_items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` of every remote value."""
        values = self._values
        for name, position in values[0].items():
            value = values[position]
            if value is not UNSET:
                yield name, value

    def _update_remote(self, names: tuple[str, ...], new: Iterable[Any]) -> None:
        """Set the remote values of ``names`` (``NOT_SET`` removes one)."""
        # Under the session's lock, like merges, so that no concurrent change is lost.
        with self.session._lock:
            self._values = _updated(self._values, names, new)

    def _merge_values(self, values: tuple[Any, ...]) -> None:
        """Take server ``values`` laid out as ``values[0]`` (a shape) says."""
        current = self._values
        if current[0] is values[0] or len(current) == 1:
            self._values = values
        else:
            self._values = _updated(current, values[0].names, values[1:])

    # Reading ------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        local = self._local_values
        if local is None or (value := local.get(name, UNSET)) is UNSET:
            values = self._values
            position = values[0].get(name)
            value = UNSET if position is None else values[position]
            if value is UNSET:
                if name not in self.info.attributes:
                    raise KeyError(name)
                value = self.session._load_attribute(self, name)
        # Collections are held as lists; only those need the schema's word.
        if type(value) is list and name in self.info.collections:
            return self._wrap(name, value)
        return value

    def _wrap(self, name: str, items: list[Any]) -> Any:
        kind = self.info.attributes[name].kind
        if kind is AttributeKind.METADATA:
            return MetadataMapping(self, name, items)
        if kind is AttributeKind.CUSTOM_ATTRIBUTES:
            return CustomAttributes(self, name, items)
        return Collection(self, name, items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.info.attributes)

    def __len__(self) -> int:
        return len(self.info.attributes)

    def __contains__(self, name: object) -> bool:
        return name in self.info.attributes

    def items(self) -> Any:
        """Every attribute and its value, loading unloaded scalars in one request."""
        self.session._load_all(self)
        return [(name, self[name]) for name in self.info.attributes]

    def values(self) -> Any:
        """Every attribute value, loading unloaded scalars in one request."""
        return [value for _, value in self.items()]

    # Writing ------------------------------------------------------------------------------

    def __setitem__(self, name: str, value: Any) -> None:
        attribute = self.info.attributes.get(name)
        if attribute is None:
            raise KeyError(name)
        if not attribute.mutable and self._state != CREATED and self._has_value(name):
            raise ImmutableAttributeError(self.entity_type, name)
        if isinstance(value, (Collection, MetadataMapping, CustomAttributes)):
            value = value.items_list()
        elif isinstance(value, (list, tuple)) and name in self.info.collections:
            value = list(value)
        elif isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        self.session._set_attribute(self, name, value)

    def _has_value(self, name: str) -> bool:
        local, remote = self._local_value(name), self._remote_value(name)
        return (local is not None and local is not UNSET) or (
            remote is not None and remote is not UNSET
        )

    def __delitem__(self, name: str) -> None:
        if name not in self.info.attributes:
            raise KeyError(name)
        local = self._local_values
        if local is not None:
            local.pop(name, None)

    def clear(self) -> None:
        """Forget local (uncommitted) values; nothing is recorded."""
        local = self._local_values
        if local is not None:
            local.clear()

    # Identity -----------------------------------------------------------------------------

    @property
    def identity(self) -> tuple[str, tuple[str, ...]]:
        """``(entity_type, primary key values as strings)``: the key of the identity map."""
        key = []
        for name in self.primary_key_attributes:
            value = self._local_value(name)
            if value is UNSET:
                value = self._remote_value(name)
            key.append(str(value))
        return self.entity_type, tuple(key)

    @property
    def primary_key(self) -> dict[str, Any]:
        """Primary-key attribute names and values."""
        return {name: self[name] for name in self.primary_key_attributes}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entity):
            return NotImplemented
        return other is self or other.identity == self.identity

    def __hash__(self) -> int:
        return hash(self.identity)

    def __repr__(self) -> str:
        shown = []
        names = list(self.primary_key_attributes)
        if "name" not in names and "name" in self.info.attributes:
            names.append("name")
        for name in names:
            value = self._local_value(name)
            if value is UNSET:
                value = self._remote_value(name)
            if value is UNSET:
                continue
            if isinstance(value, str) and len(value) > 12:
                value = value[:8] + "…"
            shown.append(f"{name}={value!r}")
        return f"{self.entity_type}({', '.join(shown)})"

    def __str__(self) -> str:
        return repr(self)
