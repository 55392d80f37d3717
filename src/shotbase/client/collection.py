"""Collection attributes: plain lists of entities, metadata and custom attributes by key.

These are thin views over the list an entity holds; every change assigns a new list to the
entity's attribute, so the session records the full new membership (as the wire expects).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping, MutableSequence
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from shotbase.client.entity import Entity

__all__ = ["Collection", "CustomAttributes", "MetadataMapping"]


class Collection(MutableSequence[Any]):
    """The entities of a collection attribute, e.g. ``project["children"]``."""

    __slots__ = ("entity", "attribute", "_items")

    def __init__(self, entity: Entity, attribute: str, items: list[Any]) -> None:
        """View ``items``, the value of ``entity[attribute]``."""
        self.entity, self.attribute, self._items = entity, attribute, items

    def __repr__(self) -> str:
        return f"Collection({self._items!r})"

    def items_list(self) -> list[Any]:
        """A copy of the entities, as a plain list."""
        return list(self._items)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items))

    def __contains__(self, value: object) -> bool:
        return value in self._items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Collection):
            return self._items == other._items
        if isinstance(other, list):
            return self._items == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _assign(self, items: list[Any]) -> None:
        self.entity[self.attribute] = items
        self._items = items

    def __setitem__(self, index: Any, value: Any) -> None:
        items = list(self._items)
        items[index] = value
        self._assign(items)

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._items)
        del items[index]
        self._assign(items)

    def insert(self, index: int, value: Any) -> None:
        """Insert ``value`` before ``index``.

        Raises:
            ValueError: If ``value`` is already in the collection.
        """
        if value in self._items:
            raise ValueError(f"{value!r} is already in {self.attribute!r}.")
        items = list(self._items)
        items.insert(index, value)
        self._assign(items)

    def extend(self, values: Iterable[Any]) -> None:
        """Append each of ``values`` (one recorded change)."""
        items = list(self._items)
        for value in values:
            if value in items:
                raise ValueError(f"{value!r} is already in {self.attribute!r}.")
            items.append(value)
        self._assign(items)


class _KeyedItems(MutableMapping[str, Any]):
    """A key -> value view over entities that carry ``key`` and ``value`` attributes."""

    __slots__ = ("entity", "attribute", "_items")

    def __init__(self, entity: Entity, attribute: str, items: list[Any]) -> None:
        self.entity, self.attribute, self._items = entity, attribute, items

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"

    def items_list(self) -> list[Any]:
        """A copy of the underlying entities, as a plain list."""
        return list(self._items)

    def _find(self, key: str) -> Any:
        for item in self._items:
            if item["key"] == key:
                return item
        return None

    def __getitem__(self, key: str) -> Any:
        item = self._find(key)
        if item is None:
            raise KeyError(key)
        return item["value"]

    def __iter__(self) -> Iterator[str]:
        return iter([item["key"] for item in self._items])

    def __len__(self) -> int:
        return len(self._items)

    def __setitem__(self, key: str, value: Any) -> None:
        item = self._find(key)
        if item is not None:
            item["value"] = value
            return
        self._add(key, value)

    def _add(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def __delitem__(self, key: str) -> None:
        item = self._find(key)
        if item is None:
            raise KeyError(key)
        self._items = [other for other in self._items if other is not item]
        self.entity[self.attribute] = self._items
        self.entity.session.delete(item)


class MetadataMapping(_KeyedItems):
    """``entity["metadata"]``: string values by key, stored as ``Metadata`` entities."""

    __slots__ = ()

    def _add(self, key: str, value: Any) -> None:
        session = self.entity.session
        item = session.create(
            "Metadata",
            {
                "parent_id": self.entity["id"],
                "parent_type": self.entity.entity_type,
                "key": key,
                "value": value,
            },
        )
        self._items = [*self._items, item]
        self.entity[self.attribute] = self._items


class CustomAttributes(_KeyedItems):
    """``entity["custom_attributes"]``: values by configuration key."""

    __slots__ = ()

    def _add(self, key: str, value: Any) -> None:
        raise KeyError(
            f"Custom attribute {key!r} does not exist on {self.entity!r}; custom attributes "
            "must be created explicitly through their configuration."
        )

    def __delitem__(self, key: str) -> None:
        raise TypeError("Custom attributes cannot be removed; set the value to None instead.")
