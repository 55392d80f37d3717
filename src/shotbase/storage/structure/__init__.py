"""Structures: compute a resource identifier for a component.

They read entities through item access only (``entity["name"]``), so they work on the official
client's entities, on shotbase's, and on plain mappings carrying ``__entity_type__``.
"""

from __future__ import annotations

from shotbase.storage.structure.base import Structure, entity_type_of
from shotbase.storage.structure.entity_id import EntityIdStructure
from shotbase.storage.structure.id import IdStructure
from shotbase.storage.structure.origin import OriginStructure
from shotbase.storage.structure.standard import StandardStructure

__all__ = [
    "EntityIdStructure",
    "IdStructure",
    "OriginStructure",
    "StandardStructure",
    "Structure",
    "entity_type_of",
]
