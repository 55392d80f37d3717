"""IdStructure: paths from component ids, fanned out over four one-character folders."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from shotbase.storage.structure.base import (
    Structure,
    entity_type_of,
    is_set,
    sequence_expression,
    value_of,
)

__all__ = ["IdStructure"]


class IdStructure(Structure):
    """Place components by id: ``prefix/1/2/3/4/56789.exr``.

    The first four characters of the id become folders so no folder grows too large. Members
    of a container live in the container's folder; sequence members are named
    ``file.<index><file_type>``, beside the sequence's ``file.%04d<file_type>`` pattern.
    """

    def _fan_out(self, component_id: str) -> list[str]:
        return [part for part in (self.prefix, *component_id[:4]) if part]

    def get_resource_identifier(self, entity: Any, context: Mapping[str, Any] | None = None) -> str:
        """Return the id-based path of a component.

        Raises:
            NotImplementedError: If ``entity`` is not a File-, Sequence- or ContainerComponent.
        """
        kind = entity_type_of(entity)
        component_id = str(value_of(entity, "id"))
        file_type = value_of(entity, "file_type")
        file_type = str(file_type) if is_set(file_type) else ""
        if kind == "FileComponent":
            container = value_of(entity, "container")
            if not is_set(container):
                parts = [*self._fan_out(component_id), component_id[4:] + file_type]
            elif entity_type_of(container) == "SequenceComponent":
                container_path = self.get_resource_identifier(container)
                name = f"file.{value_of(entity, 'name')}{file_type}"
                parts = [posixpath.dirname(container_path), name]
            else:
                parts = [self.get_resource_identifier(container), component_id + file_type]
        elif kind == "SequenceComponent":
            name = f"file.{sequence_expression(value_of(entity, 'padding'))}{file_type}"
            parts = [*self._fan_out(component_id), component_id[4:], name]
        elif kind == "ContainerComponent":
            parts = [*self._fan_out(component_id), component_id[4:]]
        else:
            raise NotImplementedError(f"IdStructure cannot place a {kind}")
        return self.path_separator.join(parts).strip("/")
