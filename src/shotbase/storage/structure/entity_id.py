"""EntityIdStructure: the entity's id is its resource identifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shotbase.storage.structure.base import Structure, value_of

__all__ = ["EntityIdStructure"]


class EntityIdStructure(Structure):
    """Pass the entity id through (what the server location uses)."""

    def get_resource_identifier(self, entity: Any, context: Mapping[str, Any] | None = None) -> str:
        """Return ``entity["id"]``."""
        return str(value_of(entity, "id"))
