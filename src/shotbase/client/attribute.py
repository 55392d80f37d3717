"""Attribute views of an entity class: local, remote and effective values of one attribute."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from shotbase.client.schema import AttributeInfo, AttributeKind
from shotbase.client.symbol import UNSET

if TYPE_CHECKING:
    from shotbase.client.entity import Entity

__all__ = ["Attribute", "Attributes"]


class Attribute:
    """One attribute of an entity class; values live on the entities, not here."""

    __slots__ = ("info",)

    def __init__(self, info: AttributeInfo) -> None:
        """Wrap the schema description ``info``."""
        self.info = info

    def __repr__(self) -> str:
        return f"Attribute(name={self.info.name!r}, kind={self.info.kind.value!r})"

    @property
    def name(self) -> str:
        """The attribute's name."""
        return self.info.name

    @property
    def mutable(self) -> bool:
        """False when the attribute cannot change after creation."""
        return self.info.mutable

    @property
    def computed(self) -> bool:
        """True when the server computes the value."""
        return self.info.computed

    @property
    def default_value(self) -> Any:
        """The schema default applied on creation (``NOT_SET`` when there is none)."""
        return self.info.default

    @property
    def is_relational(self) -> bool:
        """True for references and collections."""
        return self.info.kind not in (AttributeKind.SCALAR, AttributeKind.DATETIME)

    def get_local_value(self, entity: Entity) -> Any:
        """The value set locally and not committed yet, or ``NOT_SET``."""
        return entity._local_value(self.info.name)

    def get_remote_value(self, entity: Entity) -> Any:
        """The value last seen on the server, or ``NOT_SET``."""
        return entity._remote_value(self.info.name)

    def get_value(self, entity: Entity) -> Any:
        """The effective value (local over remote), loading it if needed."""
        return entity[self.info.name]

    def set_local_value(self, entity: Entity, value: Any) -> None:
        """Set the value as a user would (the change is recorded)."""
        entity[self.info.name] = value

    def is_modified(self, entity: Entity) -> bool:
        """True when a local value differs from the remote one."""
        local = entity._local_value(self.info.name)
        return local is not UNSET and local != entity._remote_value(self.info.name)

    def is_set(self, entity: Entity) -> bool:
        """True when the attribute has a local or remote value."""
        name = self.info.name
        return entity._local_value(name) is not UNSET or entity._remote_value(name) is not UNSET


class Attributes:
    """The attributes of one entity class; iterating yields :class:`Attribute` objects."""

    __slots__ = ("_attributes",)

    def __init__(self, infos: Mapping[str, AttributeInfo]) -> None:
        """Build a view for each attribute description."""
        self._attributes = {name: Attribute(info) for name, info in infos.items()}

    def __repr__(self) -> str:
        return f"Attributes({list(self._attributes)!r})"

    def get(self, name: str) -> Attribute | None:
        """The attribute called ``name``, or None."""
        return self._attributes.get(name)

    def keys(self) -> list[str]:
        """Attribute names, in schema order."""
        return list(self._attributes)

    def __contains__(self, name: object) -> bool:
        return name in self._attributes

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self._attributes.values())

    def __len__(self) -> int:
        return len(self._attributes)
