"""StandardStructure: paths from the project hierarchy, asset name and version number."""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from shotbase.storage.structure.base import (
    Structure,
    entity_type_of,
    is_set,
    sequence_expression,
    value_of,
)

__all__ = ["StandardStructure"]

_ILLEGAL = re.compile(r"[^\w.-]")


class StandardStructure(Structure):
    """Place components by hierarchy: ``project/seq/shot/task/asset/v003/name.ext``.

    Sequences become ``.../v003/name.%04d.exr`` and their members ``name.0042.exr``; a
    container becomes the folder ``.../v003/name`` holding its members. Every part is
    sanitised: accents folded to ASCII, other unsafe characters replaced, lower case.

    Args:
        project_versions_prefix: Folder inserted for versions published directly under the
            project (``project/<prefix>/asset/v001``).
        illegal_character_substitute: Replacement for unsafe characters; None keeps names
            unchanged.
        prefix: Prepended to every resource identifier.
    """

    def __init__(
        self,
        project_versions_prefix: str | None = None,
        illegal_character_substitute: str | None = "_",
        prefix: str = "",
    ) -> None:
        super().__init__(prefix)
        self.project_versions_prefix = project_versions_prefix
        self.illegal_character_substitute = illegal_character_substitute

    def __repr__(self) -> str:
        return (
            f"StandardStructure(project_versions_prefix={self.project_versions_prefix!r}, "
            f"illegal_character_substitute={self.illegal_character_substitute!r})"
        )

    def sanitise_for_filesystem(self, value: str) -> str:
        """Return ``value`` as a safe, lower-case, ASCII file name part."""
        if self.illegal_character_substitute is None:
            return value
        folded = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
        return _ILLEGAL.sub(self.illegal_character_substitute, folded).strip().lower()

    def get_resource_identifier(self, entity: Any, context: Mapping[str, Any] | None = None) -> str:
        """Return the hierarchy-based path of a component.

        Raises:
            ValueError: If the component is not attached to a version with a link.
            NotImplementedError: If ``entity`` is not a File-, Sequence- or ContainerComponent.
        """
        kind = entity_type_of(entity)
        name = str(value_of(entity, "name"))
        file_type = value_of(entity, "file_type")
        file_type = str(file_type) if is_set(file_type) else ""
        if kind == "FileComponent":
            container = value_of(entity, "container")
            if not is_set(container):
                parts = [
                    *self._version_parts(entity),
                    self.sanitise_for_filesystem(name + file_type),
                ]
            elif entity_type_of(container) == "SequenceComponent":
                folder = posixpath.dirname(self.get_resource_identifier(container))
                member = f"{value_of(container, 'name')}.{name}{file_type}"
                parts = [folder, self.sanitise_for_filesystem(member)]
            else:
                folder = self.get_resource_identifier(container)
                parts = [folder, self.sanitise_for_filesystem(name + file_type)]
        elif kind == "SequenceComponent":
            pattern = (
                f"{self.sanitise_for_filesystem(name)}."
                f"{sequence_expression(value_of(entity, 'padding'))}"
                f"{self.sanitise_for_filesystem(file_type)}"
            )
            parts = [*self._version_parts(entity), pattern]
        elif kind == "ContainerComponent":
            parts = [*self._version_parts(entity), self.sanitise_for_filesystem(name)]
        else:
            raise NotImplementedError(f"StandardStructure cannot place a {kind}")
        return self.path_separator.join(part for part in (self.prefix, *parts) if part)

    def _version_parts(self, component: Any) -> list[str]:
        """Return the sanitised project/.../asset/vNNN parts for a component's version."""
        version = _version_of(component)
        link = list(value_of(version, "link") or [])
        if not link:
            raise ValueError(
                f"component {value_of(component, 'id')!r} must be attached to a committed"
                " version and asset with a parent context"
            )
        parts = [_project_name(version, link)]
        names = [str(item["name"]) for item in link[1:-1]]
        if names:
            parts.extend(names)
        elif self.project_versions_prefix:
            parts.append(self.project_versions_prefix)
        parts.append(str(value_of(value_of(version, "asset"), "name")))
        parts.append(f"v{int(value_of(version, 'version')):03d}")
        return [self.sanitise_for_filesystem(part) for part in parts]


def _version_of(component: Any) -> Any:
    """Return the component's version, loading it by id through an entity's session."""
    version = value_of(component, "version")
    if is_set(version):
        return version
    version_id = value_of(component, "version_id")
    session = getattr(component, "session", None)
    if is_set(version_id) and session is not None:
        return session.get("AssetVersion", version_id)
    raise ValueError(
        f"component {value_of(component, 'id')!r} must be attached to a committed version"
        " and asset with a parent context"
    )


def _project_name(version: Any, link: list[Any]) -> str:
    """Return the project's short name: loaded through the session, else the link's name."""
    session = getattr(version, "session", None)
    if session is not None and hasattr(session, "get"):
        project = session.get("Project", link[0]["id"])
        if project is not None:
            return str(project["name"])
    return str(link[0]["name"])
