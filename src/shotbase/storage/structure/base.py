"""The structure interface and helpers for reading duck-typed entities."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

__all__ = ["Structure", "entity_type_of", "is_set", "sequence_expression"]


def entity_type_of(entity: Any) -> str:
    """Return the entity type of an entity object or of a mapping with ``__entity_type__``.

    Raises:
        TypeError: If ``entity`` names no entity type.
    """
    name = getattr(entity, "entity_type", None)
    if isinstance(name, str):
        return name
    if isinstance(entity, Mapping) and isinstance(entity.get("__entity_type__"), str):
        return str(entity["__entity_type__"])
    raise TypeError(f"expected an entity or a mapping with '__entity_type__', got {entity!r}")


def is_set(value: Any) -> bool:
    """Return whether an attribute value is present (not None, not an unset sentinel, not empty).

    Both clients' "not set" sentinels are falsy, so a truth test covers them.
    """
    return bool(value)


def value_of(entity: Any, key: str) -> Any:
    """Return ``entity[key]``, or None when a mapping lacks the key."""
    if isinstance(entity, Mapping):
        return entity.get(key)
    return entity[key]


def sequence_expression(padding: Any) -> str:
    """Return the printf frame placeholder for a padding: ``%04d``, or ``%d`` when unset."""
    return f"%0{int(padding)}d" if is_set(padding) else "%d"


class Structure(abc.ABC):
    """Compute resource identifiers for components.

    Args:
        prefix: Prepended to every resource identifier (joined with ``/``).
    """

    path_separator = "/"

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prefix={self.prefix!r})"

    @abc.abstractmethod
    def get_resource_identifier(self, entity: Any, context: Mapping[str, Any] | None = None) -> str:
        """Return the resource identifier for ``entity``.

        Args:
            entity: A component (entity object or mapping).
            context: Extra information, e.g. ``source_resource_identifier``.
        Raises:
            NotImplementedError: If the structure does not support the entity type.
            ValueError: If the entity lacks what the structure needs.
        """
