"""Entity classes built from the server's schemas, each one only when first needed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from shotbase.client.attribute import Attributes
from shotbase.client.entity import Entity
from shotbase.client.helpers import mixins_for
from shotbase.client.schema import EntityTypeInfo, parse_schema
from shotbase.errors import UnknownEntityTypeError

__all__ = ["Customize", "EntityTypes"]

Customize = Callable[[type[Entity], Mapping[str, Any]], type[Entity]]
"""Given a freshly built class and its schema, returns the class to use (it or a subclass)."""


class EntityTypes(Mapping[str, type[Entity]]):
    """Entity classes by type name; a class is built on first access (thread-safe)."""

    def __init__(
        self, schemas: Sequence[Mapping[str, Any]], customize: Customize | None = None
    ) -> None:
        """Index ``schemas`` (the ``query_schemas`` answer) without building any class.

        Args:
            schemas: The server's schemas.
            customize: Called with each class once it is built; returns the class to use.
        """
        self._schemas = {schema["id"]: schema for schema in schemas}
        self._classes: dict[str, type[Entity]] = {}
        self._lock = threading.RLock()
        self.customize = customize

    def __repr__(self) -> str:
        return f"EntityTypes({len(self._schemas)} types, {len(self._classes)} built)"

    def __getitem__(self, name: str) -> type[Entity]:
        cls = self._classes.get(name)
        if cls is None:
            cls = self._build(name)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._schemas)

    def __len__(self) -> int:
        return len(self._schemas)

    def __contains__(self, name: object) -> bool:
        return name in self._schemas

    @property
    def schemas(self) -> list[Mapping[str, Any]]:
        """The schema objects the classes are built from."""
        return list(self._schemas.values())

    def require(self, name: str) -> type[Entity]:
        """The class for ``name``.

        Raises:
            UnknownEntityTypeError: If the server has no such entity type.
        """
        if name not in self._schemas:
            raise UnknownEntityTypeError(name, self._schemas)
        return self[name]

    def _build(self, name: str) -> type[Entity]:
        with self._lock:
            cls = self._classes.get(name)
            if cls is not None:
                return cls
            schema = self._schemas.get(name)
            if schema is None:
                raise KeyError(name)
            info: EntityTypeInfo = parse_schema(schema)
            namespace = {
                "__slots__": (),
                "__module__": "shotbase.client.types",
                "entity_type": name,
                "info": info,
                "attributes": Attributes(info.attributes),
                "primary_key_attributes": info.primary_key,
                "default_projections": info.default_projections,
            }
            bases: tuple[type, ...] = (*mixins_for(name, list(info.attributes)), Entity)
            cls = type(name, bases, namespace)
            if self.customize is not None:
                cls = self.customize(cls, schema)
            self._classes[name] = cls
            return cls
