"""The entity base class: a dict-like view over local and remote attribute values.

Values live in two plain dicts per entity (``_local``: set in this session and not committed;
``_remote``: last seen on the server); there are no per-attribute objects per entity, which keeps
decoding large query results cheap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar

from shotbase.client.attribute import Attributes
from shotbase.client.collection import Collection, CustomAttributes, MetadataMapping
from shotbase.client.schema import AttributeKind, EntityTypeInfo
from shotbase.client.symbol import UNSET
from shotbase.errors import ImmutableAttributeError

if TYPE_CHECKING:
    from shotbase.client.session import Session

__all__ = ["CREATED", "DELETED", "PERSISTED", "Entity"]

PERSISTED, CREATED, DELETED = 0, 1, 2


class Entity(MutableMapping[str, Any]):
    """An entity of one type; subclasses are built per type from the server's schema.

    Reading a key returns the local value, else the remote one, else loads it from the server
    (when auto-population is on); unknown keys raise ``KeyError``. Equality and hashing use the
    entity's identity (type and primary key), never attribute values.
    """

    __slots__ = ("session", "_local", "_remote", "_state", "__weakref__")

    entity_type: ClassVar[str] = "Entity"
    info: ClassVar[EntityTypeInfo]
    attributes: ClassVar[Attributes]
    primary_key_attributes: ClassVar[tuple[str, ...]] = ("id",)
    default_projections: ClassVar[tuple[str, ...]] = ()

    def __init__(self, session: Session, state: int = PERSISTED) -> None:
        """Make an empty entity bound to ``session`` (use ``Session.create`` instead)."""
        self.session = session
        self._local: dict[str, Any] = {}
        self._remote: dict[str, Any] = {}
        self._state = state

    # Reading ------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Any:
        value = self._local.get(name, UNSET)
        if value is UNSET:
            value = self._remote.get(name, UNSET)
            if value is UNSET:
                if name not in self.info.attributes:
                    raise KeyError(name)
                value = self.session._load_attribute(self, name)
        if name in self.info.collections and value is not UNSET:
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
        return self._local.get(name) is not None or self._remote.get(name) is not None

    def __delitem__(self, name: str) -> None:
        if name not in self.info.attributes:
            raise KeyError(name)
        self._local.pop(name, None)

    def clear(self) -> None:
        """Forget local (uncommitted) values; nothing is recorded."""
        self._local.clear()

    # Identity -----------------------------------------------------------------------------

    @property
    def identity(self) -> tuple[str, tuple[str, ...]]:
        """``(entity_type, primary key values as strings)``: the key of the identity map."""
        local, remote = self._local, self._remote
        key = []
        for name in self.primary_key_attributes:
            value = local.get(name, UNSET)
            if value is UNSET:
                value = remote.get(name, UNSET)
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
            value = self._local.get(name, self._remote.get(name, UNSET))
            if value is UNSET:
                continue
            if isinstance(value, str) and len(value) > 12:
                value = value[:8] + "…"
            shown.append(f"{name}={value!r}")
        return f"{self.entity_type}({', '.join(shown)})"

    def __str__(self) -> str:
        return repr(self)
