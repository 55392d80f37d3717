"""OriginStructure: keep the resource identifier the data already has."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shotbase.storage.structure.base import Structure

__all__ = ["OriginStructure"]


class OriginStructure(Structure):
    """Pass ``context["source_resource_identifier"]`` through (the origin location's paths)."""

    def get_resource_identifier(self, entity: Any, context: Mapping[str, Any] | None = None) -> str:
        """Return the source resource identifier from ``context``.

        Raises:
            ValueError: If ``context`` has no ``source_resource_identifier``.
        """
        source = (context or {}).get("source_resource_identifier")
        if source is None:
            raise ValueError(
                "OriginStructure needs context['source_resource_identifier'], got none"
            )
        return str(source)
