"""The entity model: entity types, their attributes and the inheritance between them."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shotbase.errors import UnknownAttributeError, UnknownEntityTypeError

__all__ = ["Attribute", "AttributeKind", "DataType", "EntityType", "Schema"]


class AttributeKind(enum.Enum):
    """How an attribute holds its value."""

    SCALAR = "scalar"
    REFERENCE = "reference"
    COLLECTION = "collection"
    MAPPED_COLLECTION = "mapped_collection"


class DataType(enum.Enum):
    """The value type of a scalar attribute."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "date-time"
    VARIABLE = "variable"
    OBJECT = "object"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of an entity type, as the schema declares it."""

    name: str
    kind: AttributeKind
    data_type: DataType | None = None
    target: str | None = None
    default: Any = None
    has_default: bool = False
    is_computed: bool = False
    is_immutable: bool = False
    is_required: bool = False
    is_primary_key: bool = False
    is_restricted: bool = False

    @property
    def is_relation(self) -> bool:
        """True for references and collections."""
        return self.kind is not AttributeKind.SCALAR

    @property
    def is_stored(self) -> bool:
        """True when the value lives in a column of the entity's table."""
        return (
            self.kind is AttributeKind.SCALAR
            and not self.is_computed
            and self.data_type is not DataType.OBJECT
        )


@dataclass(eq=False, slots=True)
class EntityType:
    """An entity type: its attributes, keys and place in the inheritance tree."""

    id: str
    attributes: dict[str, Attribute]
    primary_key: tuple[str, ...]
    default_projections: tuple[str, ...]
    base: EntityType | None = None
    system_attributes: tuple[str, ...] = ()
    stored_attributes: tuple[Attribute, ...] = ()
    required_attributes: tuple[str, ...] = ()
    is_abstract: bool = False
    is_view: bool = False
    storage: Mapping[str, Any] = field(default_factory=dict)
    subtypes: list[EntityType] = field(default_factory=list)
    _root: EntityType | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"EntityType(id={self.id!r})"

    @property
    def root(self) -> EntityType:
        """The top of this type's family; all its members share one table."""
        if self._root is None:
            self._root = self.base.root if self.base else self
        return self._root

    def attribute(self, name: str) -> Attribute:
        """Return the attribute called ``name``.

        Raises:
            UnknownAttributeError: If the type has no such attribute.
        """
        try:
            return self.attributes[name]
        except KeyError:
            raise UnknownAttributeError(self.id, name, self.attributes) from None

    def descendants(self) -> Iterator[EntityType]:
        """Yield this type and every type that extends it, depth first."""
        yield self
        for subtype in self.subtypes:
            yield from subtype.descendants()

    @property
    def is_view_family(self) -> bool:
        """True when rows are returned as the type a query names, not a stored subtype."""
        return self.root.is_view

    def concrete_ids(self) -> tuple[str, ...]:
        """Ids of the types whose rows a query on this type returns."""
        return tuple(t.id for t in self.descendants() if not t.is_abstract)

    def is_a(self, other: EntityType) -> bool:
        """True when this type is ``other`` or extends it."""
        current: EntityType | None = self
        while current is not None:
            if current is other:
                return True
            current = current.base
        return False


@dataclass(eq=False, slots=True)
class Schema:
    """Every entity type, the wire document they came from and its hash."""

    types: dict[str, EntityType]
    wire: list[dict[str, Any]]
    hash: str

    def __repr__(self) -> str:
        return f"Schema(types={len(self.types)}, hash={self.hash!r})"

    def __contains__(self, name: object) -> bool:
        return name in self.types

    def get(self, name: str) -> EntityType:
        """Return the entity type called ``name``.

        Raises:
            UnknownEntityTypeError: If there is no such type.
        """
        try:
            return self.types[name]
        except KeyError:
            raise UnknownEntityTypeError(name, self.types) from None
