"""Components on the client: creating them from files and sequences, and where they are.

``ComponentActions`` is the part of ``Session`` that creates components and picks locations;
``ComponentMixin`` and ``ThumbnailMixin`` are entity helpers (``get_availability``,
``create_thumbnail``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shotbase.client.entity import Entity
from shotbase.client.location import (
    ORIGIN_LOCATION_ID,
    REVIEW_LOCATION_ID,
    SERVER_LOCATION_ID,
    LocationMixin,
    is_container,
)
from shotbase.errors import LocationError
from shotbase.events import Event
from shotbase.storage.sequence import FileSequence

if TYPE_CHECKING:
    from shotbase.client.query_result import QueryResult

__all__ = ["ComponentActions", "ComponentMixin", "ThumbnailMixin"]

REVIEW_COMPONENT_NAMES = frozenset({"ftrackreview-mp4", "ftrackreview-webm", "ftrackreview-image"})
FILE_TYPE_TOPIC = "ftrack.api.session.get-file-type-from-string"


class ComponentActions:
    """``create_component``, availabilities and ``pick_location`` (mixed into ``Session``)."""

    def create(self, entity_type: str, data: Mapping[str, Any] | None = None) -> Any:
        raise NotImplementedError  # pragma: no cover - provided by Session

    def get(self, entity_type: str, entity_key: Any) -> Any:
        raise NotImplementedError  # pragma: no cover - provided by Session

    def query(self, expression: str, page_size: int = 500) -> QueryResult:
        raise NotImplementedError  # pragma: no cover - provided by Session

    def populate(self, entities: Any, projections: str) -> None:
        raise NotImplementedError  # pragma: no cover - provided by Session

    @property
    def event_hub(self) -> Any:
        raise NotImplementedError  # pragma: no cover - provided by Session

    # Creating -----------------------------------------------------------------------------

    def create_component(
        self, path: str, data: Mapping[str, Any] | None = None, location: Any = "auto"
    ) -> Entity:
        """Create a component for the file or sequence at ``path`` and add it to ``location``.

        ``path`` is a file, or a sequence written ``'{head}{padding}{tail} [{ranges}]'``
        (``'/r/f.%04d.exr [1-5, 7, 10-20]'``), which creates a ``SequenceComponent`` with a
        ``FileComponent`` member per frame. Size, file type and padding are filled in.

        Args:
            path: The file or sequence.
            data: More attributes of the (container) component, e.g. ``name`` or ``version``.
            location: Where to add it: a location, None for nowhere, or ``'auto'`` for the
                highest priority accessible location (``ftrack.review`` for review names).
        Returns:
            The component (created; the location's registration commits it).
        Raises:
            LocationError: If the data cannot be added to ``location``.
        """
        values = dict(data or {})
        if location == "auto":
            if values.get("name") in REVIEW_COMPONENT_NAMES:
                location = self.get("Location", REVIEW_LOCATION_ID)
            else:
                location = self.pick_location()
        sequence = _parse_sequence(path)
        if sequence is None:
            values.setdefault("size", _file_size(path))
            values.setdefault("file_type", self._file_type(path))
            return self._create_component("FileComponent", path, values, location)
        return self._create_sequence(sequence, values, location)

    def _create_sequence(
        self, sequence: FileSequence, values: dict[str, Any], location: Any
    ) -> Entity:
        frames = list(sequence.indexes)
        if values.get("size") is not None:
            each = int(round(values["size"] / len(frames))) if frames else 0
            sizes = dict.fromkeys(frames, each)
        else:
            sizes = {frame: _file_size(sequence.path(frame)) for frame in frames}
            values["size"] = sum(sizes.values())
        pattern = sequence.pattern
        file_type = self._file_type(pattern)
        values.setdefault("padding", sequence.padding)
        values.setdefault("file_type", file_type)
        container = self._create_component("SequenceComponent", pattern, values, None)
        for frame in frames:
            member_path = sequence.path(frame)
            member = self._create_component(
                "FileComponent",
                member_path,
                {
                    "name": f"{frame:0{sequence.padding}d}",
                    "container": container,
                    "size": sizes[frame],
                    "file_type": file_type,
                },
                None,
            )
            container["members"].append(member)
        if location:
            origin = self.get("Location", ORIGIN_LOCATION_ID)
            location.add_component(container, origin, recursive=True)
        return container

    def _create_component(
        self, entity_type: str, path: str, values: Mapping[str, Any], location: Any
    ) -> Entity:
        component: Entity = self.create(entity_type, values)
        origin = self.get("Location", ORIGIN_LOCATION_ID)
        origin.add_component(component, path, recursive=False)
        if location:
            location.add_component(component, origin, recursive=False)
        return component

    def _file_type(self, path: str) -> str:
        """The file type a plugin names for ``path``, else its extension (``.exr``)."""
        answers = self.event_hub.publish(
            Event(FILE_TYPE_TOPIC, data={"file_path": path}), synchronous=True
        )
        chosen = next((answer for answer in answers or () if answer), None)
        return str(chosen) if chosen else os.path.splitext(path)[1]

    # Where components are -----------------------------------------------------------------

    def get_component_availability(
        self, component: Entity, locations: Sequence[Entity] | None = None
    ) -> dict[str, float]:
        """``{location id: percentage of component's data there}``."""
        return self.get_component_availabilities([component], locations=locations)[0]

    def get_component_availabilities(
        self, components: Sequence[Entity], locations: Sequence[Entity] | None = None
    ) -> list[dict[str, float]]:
        """For each component, ``{location id: percentage of its data there}``.

        A container's availability is the average of its members'. Registrations are read
        from the server in a few batched requests whatever the number of components.
        """
        components = list(components)
        if locations is None:
            locations = list(self.query("Location"))
        base = {str(location["id"]): 0.0 for location in locations}
        containers = [component for component in components if is_container(component)]
        plain = [component for component in components if not is_container(component)]
        if plain:
            self.populate(plain, "component_locations.location_id")
        if containers:
            self.populate(containers, "members, component_locations.location_id")
        found = []
        for component in components:
            availability = dict(base)
            members = list(component["members"]) if is_container(component) else []
            if members:
                share = 1.0 / len(members)
                for member_availability in self.get_component_availabilities(members, locations):
                    for location_id, percentage in member_availability.items():
                        availability[location_id] += percentage * share
            else:
                for registration in component["component_locations"]:
                    if str(registration["location_id"]) in availability:
                        availability[str(registration["location_id"])] = 100.0
            found.append(
                {key: max(0.0, min(round(value, 9), 100.0)) for key, value in availability.items()}
            )
        return found

    def pick_location(self, component: Entity | None = None) -> Any:
        """The highest priority accessible location (holding ``component`` when given).

        Returns None when there is none.
        """
        if component is not None:
            return self.pick_locations([component])[0]
        locations = self._accessible_locations()
        return locations[0] if locations else None

    def pick_locations(self, components: Sequence[Entity]) -> list[Any]:
        """For each component, the highest priority accessible location holding it, or None."""
        candidates = self._accessible_locations()
        availabilities = self.get_component_availabilities(components, locations=candidates)
        return [
            next((each for each in candidates if availability[str(each["id"])] > 0.0), None)
            for availability in availabilities
        ]

    def _accessible_locations(self) -> list[LocationMixin]:
        locations = [each for each in self.query("Location") if each.accessor]
        return sorted(locations, key=lambda location: location.priority)


def _parse_sequence(path: str) -> FileSequence | None:
    """The sequence ``path`` writes with its ``[ranges]``, or None for a plain file path."""
    if not path.rstrip().endswith("]"):
        return None
    try:
        return FileSequence.parse(path.rstrip())
    except ValueError:
        return None


def _file_size(path: str) -> int:
    """The size of the file at ``path``; 0 when it cannot be read (as the official client)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class ComponentMixin(Entity):
    """``get_availability`` of every component type."""

    __slots__ = ()

    def get_availability(self, locations: Sequence[Entity] | None = None) -> dict[str, float]:
        """``{location id: percentage of this component's data there}``."""
        return dict(self.session.get_component_availability(self, locations=locations))


class ThumbnailMixin(Entity):
    """``create_thumbnail`` of every type with a ``thumbnail_id``."""

    __slots__ = ()

    def create_thumbnail(self, path: str, data: Mapping[str, Any] | None = None) -> Entity:
        """Upload the image at ``path`` to the server location and make it the thumbnail.

        Commits the session.

        Raises:
            LocationError: If the upload fails.
        """
        values = dict(data or {})
        values["name"] = values.get("name") or "thumbnail"
        component = self.session.create_component(path, values, location=None)
        server: Any = self.session.get("Location", SERVER_LOCATION_ID)
        if server is None:
            raise LocationError("The server has no ftrack.server location.")
        origin = self.session.get("Location", ORIGIN_LOCATION_ID)
        server.add_component(component, origin)
        self["thumbnail_id"] = component["id"]
        self.session.commit()
        return component
