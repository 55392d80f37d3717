"""Locations on the client: their configuration and the ``Location`` entity's methods.

A location entity is configured in the session, not on the server: which ``accessor`` moves
its bytes, which ``structure`` names its files, its ``priority`` (lower is picked first),
whether it manages data (``managed``; unmanaged locations only record where data already is)
and whether its registrations live in the session only (``in_memory``, the origin location).
The configuration is kept per location id by the session, so every entity object of the same
location shares it. Plugins set it from the ``ftrack.api.session.configure-location`` event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shotbase.client.entity import Entity
from shotbase.client.symbol import NOT_SET
from shotbase.client.transfer import TargetFolders, copy_files, discard_data
from shotbase.errors import (
    AccessorResourceNotFoundError,
    ComponentInLocationError,
    ComponentNotInLocationError,
    LocationError,
)
from shotbase.events import Event

if TYPE_CHECKING:
    from shotbase.client.session import Session

__all__ = [
    "COMPONENT_ADDED_TOPIC",
    "COMPONENT_REMOVED_TOPIC",
    "LocationMixin",
    "LocationRegistry",
    "LocationSetup",
    "ORIGIN_LOCATION_ID",
    "REVIEW_LOCATION_ID",
    "SERVER_LOCATION_ID",
    "UNMANAGED_LOCATION_ID",
    "configure_builtin_locations",
    "is_container",
]

logger = logging.getLogger(__name__)

COMPONENT_ADDED_TOPIC = "ftrack.location.component-added"
COMPONENT_REMOVED_TOPIC = "ftrack.location.component-removed"
QUERY_CHUNK = 250
ORIGIN_LOCATION_ID = "ce9b348f-8809-11e3-821c-20c9d081909b"
UNMANAGED_LOCATION_ID = "cb268ecc-8809-11e3-a7e2-20c9d081909b"
REVIEW_LOCATION_ID = "cd41be70-8809-11e3-b98a-20c9d081909b"
SERVER_LOCATION_ID = "3a372bde-05bc-11e4-8908-20c9d081909b"
DEFAULT_PRIORITY = 95


@dataclass
class LocationSetup:
    """How the session uses one location."""

    accessor: Any = NOT_SET
    structure: Any = NOT_SET
    priority: int = DEFAULT_PRIORITY
    resource_identifier_transformer: Any = NOT_SET
    managed: bool = True
    in_memory: bool = False
    registered: dict[str, str] = field(default_factory=dict)


class LocationRegistry:
    """Location set-ups by location id (thread-safe)."""

    def __init__(self) -> None:
        self._setups: dict[str, LocationSetup] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocationRegistry({len(self._setups)} locations)"

    def get(self, location_id: str) -> LocationSetup:
        """The set-up of ``location_id`` (a default one, without accessor, when new)."""
        with self._lock:
            setup = self._setups.get(location_id)
            if setup is None:
                setup = self._setups[location_id] = LocationSetup()
            return setup

    def close_accessors(self) -> None:
        """Close what the accessors hold open (an SFTP connection), each once; an accessor
        used again opens anew. A failure is logged: closing goes on."""
        with self._lock:
            accessors = {id(setup.accessor): setup.accessor for setup in self._setups.values()}
        for accessor in accessors.values():
            close = getattr(accessor, "close", None)
            if not callable(close):
                continue
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - the session closes whatever happens
                logger.warning("could not close the accessor %r: %s", accessor, exc)


def is_container(component: Entity) -> bool:
    """Whether ``component`` is a container (its type has ``members``)."""
    return "members" in component.info.attributes


class LocationMixin(Entity):
    """The ``Location`` entity: add, remove and find component data."""

    __slots__ = ()

    # Configuration ------------------------------------------------------------------------

    @property
    def _setup(self) -> LocationSetup:
        return self.session._locations.get(str(self["id"]))

    @property
    def accessor(self) -> Any:
        """The accessor moving this location's data (``NOT_SET`` when not accessible)."""
        return self._setup.accessor

    @accessor.setter
    def accessor(self, value: Any) -> None:
        self._setup.accessor = value

    @property
    def structure(self) -> Any:
        """The structure naming this location's resource identifiers."""
        return self._setup.structure

    @structure.setter
    def structure(self, value: Any) -> None:
        self._setup.structure = value

    @property
    def priority(self) -> int:
        """Lower is picked first by ``pick_location`` (default 95)."""
        return self._setup.priority

    @priority.setter
    def priority(self, value: int) -> None:
        self._setup.priority = int(value)

    @property
    def resource_identifier_transformer(self) -> Any:
        """Encodes identifiers before they are stored and decodes them when read back."""
        return self._setup.resource_identifier_transformer

    @resource_identifier_transformer.setter
    def resource_identifier_transformer(self, value: Any) -> None:
        self._setup.resource_identifier_transformer = value

    @property
    def managed(self) -> bool:
        """Whether adding and removing components transfers and deletes their data."""
        return self._setup.managed

    @managed.setter
    def managed(self, value: bool) -> None:
        self._setup.managed = bool(value)

    @property
    def in_memory(self) -> bool:
        """Whether registrations are kept by this session only (not on the server)."""
        return self._setup.in_memory

    @in_memory.setter
    def in_memory(self, value: bool) -> None:
        self._setup.in_memory = bool(value)

    def __repr__(self) -> str:
        name = self._local.get("name", self._remote.get("name"))
        return f"Location(name={name!r}, priority={self.priority})"

    # Adding -------------------------------------------------------------------------------

    def add_component(self, component: Entity, source: Any, recursive: bool = True) -> None:
        """Add ``component`` to this location, transferring its data from ``source``.

        See :meth:`add_components`.
        """
        self.add_components([component], source, recursive=recursive)

    def add_components(
        self, components: Sequence[Entity], sources: Any, recursive: bool = True
    ) -> None:
        """Add ``components`` (and, with ``recursive``, container members) to this location.

        Data is copied from each component's source location through both accessors, then
        every component is registered in one commit. Either all are added or none: when a
        transfer or the registration fails, the data this call wrote is removed again.

        Args:
            components: The components to add.
            sources: One source for all, or one per component: a location, or (for an
                unmanaged location) the path of the data.
        Raises:
            ValueError: If ``sources`` does not match ``components``.
            ComponentInLocationError: If some are in this location already (nothing is done).
            LocationError: If there is no structure or accessor, data exists at the target,
                or a transfer or the registration failed.
        """
        components = list(components)
        source_list = _source_list(components, sources)
        if not self.structure:
            raise LocationError(f"No structure defined for location {self}.", {"location": self})
        if not components:
            return
        plan = _plan(components, source_list, recursive)
        present = self._identifiers([component for component, _ in plan])
        if present:
            existing = [component for component, _ in plan if component["id"] in present]
            raise ComponentInLocationError(existing, self)
        transferred = self._transfer(plan)
        try:
            self._register(transferred)
        except Exception as error:
            discard_data(self, transferred)
            raise LocationError(
                f"Failed to register components with location {self}: {error}",
                {"location": self, "error": error, "transferred": []},
            ) from error
        for component, _ in transferred:
            self._publish(COMPONENT_ADDED_TOPIC, component)

    def _transfer(self, plan: list[tuple[Entity, Any]]) -> list[tuple[Entity, str]]:
        """Compute each target identifier and copy the data; undo everything on failure.

        Targets are checked first (every container made once, existing data refused), then
        the files are copied in one batch per source location.
        """
        context_of = _SourceContexts(plan)
        planned: list[tuple[Entity, str]] = []
        copies: dict[int, tuple[Any, list[tuple[str, str]]]] = {}
        folders = TargetFolders(self.accessor) if self.managed else None
        failed: Entity | None = None
        try:
            for component, source in plan:
                failed = component
                context = context_of(component, source)
                identifier = self.structure.get_resource_identifier(component, context)
                planned.append((component, identifier))
                if folders is not None:
                    copy = self._prepare_data(component, identifier, source, context, folders)
                    if copy is not None:
                        copies.setdefault(id(source), (source, []))[1].append(copy)
            failed = None  # from here on, the accessor's error names the file
            for source, pairs in copies.values():
                copy_files(source.accessor, self.accessor, pairs)
        except Exception as error:
            discard_data(self, [each for each in planned if not _was_there(each, folders)])
            what = f"component {failed}" if failed is not None else "components"
            raise LocationError(
                f"Failed to transfer {what} data to location {self}: {error}",
                {"component": failed, "location": self, "error": error, "transferred": []},
            ) from error
        return planned

    def _prepare_data(
        self,
        component: Entity,
        identifier: str,
        source: Any,
        context: dict[str, Any],
        folders: TargetFolders,
    ) -> tuple[str, str] | None:
        """Make the target's container; return the file copy to make, if any.

        Raises:
            LocationError: Without accessors, or when data is already at the target.
        """
        accessor = self.accessor
        if not accessor:
            raise LocationError(f"No accessor defined for target location {self}.")
        if is_container(component):
            if component.entity_type != "SequenceComponent":
                accessor.make_container(identifier)
            return None
        if not isinstance(source, LocationMixin) or not source.accessor:
            raise LocationError(f"No accessor defined for source location {source}.")
        if "source_resource_identifier" not in context:
            raise ComponentNotInLocationError([component], source)
        if folders.holds(identifier):
            folders.existing.add(identifier)
            raise LocationError(
                "Cannot add component as data already exists and overwriting could result in"
                f" data loss. Computed target resource identifier was: {identifier}"
            )
        return str(context["source_resource_identifier"]), identifier

    def _register(self, transferred: list[tuple[Entity, str]]) -> None:
        encoded = [
            (component, self._encode(component, identifier))
            for component, identifier in transferred
        ]
        if self.in_memory:
            for component, identifier in encoded:
                self._setup.registered[str(component["id"])] = identifier
            return
        for component, identifier in encoded:
            self.session.create(
                "ComponentLocation",
                {"component": component, "location": self, "resource_identifier": identifier},
            )
        self.session.commit()

    # Removing -----------------------------------------------------------------------------

    def remove_component(self, component: Entity, recursive: bool = True) -> None:
        """Remove ``component`` from this location (see :meth:`remove_components`)."""
        self.remove_components([component], recursive=recursive)

    def remove_components(self, components: Sequence[Entity], recursive: bool = True) -> None:
        """Delete the components' data (managed locations) and their registrations.

        Raises:
            ComponentNotInLocationError: If some are not in this location (nothing is done).
            LocationError: If the data cannot be removed.
        """
        plan = [component for component, _ in _plan(list(components), [None], recursive)]
        identifiers = dict(zip(plan, self.get_resource_identifiers(plan), strict=True))
        if self.managed:
            accessor = self.accessor
            if not accessor:
                raise LocationError(f"No accessor defined for location {self}.")
            for component in plan:
                try:
                    accessor.remove(identifiers[component])
                except AccessorResourceNotFoundError:
                    if component.entity_type != "SequenceComponent":
                        raise
        self._deregister(plan)
        for component in plan:
            self._publish(COMPONENT_REMOVED_TOPIC, component)

    def _deregister(self, components: list[Entity]) -> None:
        ids = [str(component["id"]) for component in components]
        if self.in_memory:
            for component_id in ids:
                self._setup.registered.pop(component_id, None)
            return
        for chunk in _chunks(ids):
            found = self.session.query(
                f"ComponentLocation where location_id is {_quoted(self['id'])}"
                f" and component_id in ({', '.join(map(_quoted, chunk))})"
            )
            for registration in found:
                self.session.delete(registration)
        self.session.commit()

    # Finding ------------------------------------------------------------------------------

    def get_resource_identifier(self, component: Entity) -> str:
        """The resource identifier of ``component`` here.

        Raises:
            ComponentNotInLocationError: If it is not in this location.
        """
        return self.get_resource_identifiers([component])[0]

    def get_resource_identifiers(self, components: Sequence[Entity]) -> list[str]:
        """The resource identifiers of ``components`` here, in the same order.

        Raises:
            ComponentNotInLocationError: If some are not in this location.
        """
        components = list(components)
        found = self._identifiers(components)
        missing = [component for component in components if component["id"] not in found]
        if missing:
            raise ComponentNotInLocationError(missing, self)
        return [self._decode(component, found[component["id"]]) for component in components]

    def _identifiers(self, components: Iterable[Entity]) -> dict[str, str]:
        """Stored (still encoded) resource identifiers by component id, for those present."""
        ids = list(dict.fromkeys(str(component["id"]) for component in components))
        if self.in_memory:
            registered = self._setup.registered
            return {each: registered[each] for each in ids if each in registered}
        operations = [
            {
                "action": "query",
                "expression": "select component_id, resource_identifier from"
                f" ComponentLocation where location_id is {_quoted(self['id'])}"
                f" and component_id in ({', '.join(map(_quoted, chunk))})",
            }
            for chunk in _chunks(ids)
        ]
        found: dict[str, str] = {}
        for result in self.session.call(operations) if operations else ():
            for row in result["data"]:
                found[str(row["component_id"])] = str(row["resource_identifier"])
        return found

    def _encode(self, component: Entity, identifier: str) -> str:
        transformer = self.resource_identifier_transformer
        if transformer:
            return str(transformer.encode(identifier, context={"component": component}))
        return identifier

    def _decode(self, component: Entity, identifier: str) -> str:
        transformer = self.resource_identifier_transformer
        if transformer:
            return str(transformer.decode(identifier, context={"component": component}))
        return identifier

    def get_component_availability(self, component: Entity) -> float:
        """The percentage of ``component``'s data in this location."""
        return self.get_component_availabilities([component])[0]

    def get_component_availabilities(self, components: Sequence[Entity]) -> list[float]:
        """The percentage of each component's data in this location."""
        found = self.session.get_component_availabilities(components, locations=[self])
        return [availability[self["id"]] for availability in found]

    def get_filesystem_path(self, component: Entity) -> str:
        """The path of ``component``'s data in the accessor's file system."""
        return self.get_filesystem_paths([component])[0]

    def get_filesystem_paths(self, components: Sequence[Entity]) -> list[str]:
        """The paths of the components' data in the accessor's file system."""
        identifiers = self.get_resource_identifiers(components)
        return [self.accessor.get_filesystem_path(each) for each in identifiers]

    def get_url(self, component: Entity) -> str:
        """A URL for ``component``'s data (``file://``, ``sftp://`` or the server's)."""
        return str(self.accessor.get_url(self.get_resource_identifier(component)))

    def get_thumbnail_url(self, component: Entity, size: int | None = None) -> str:
        """A thumbnail URL for ``component`` (locations whose accessor offers one).

        Raises:
            LocationError: If the accessor has no thumbnails.
        """
        getter = getattr(self.accessor, "get_thumbnail_url", None)
        if getter is None:
            raise LocationError(f"Location {self} offers no thumbnails.")
        return str(getter(self.get_resource_identifier(component), size))

    def _publish(self, topic: str, component: Entity) -> None:
        event = Event(topic, data={"component_id": component["id"], "location_id": self["id"]})
        try:
            self.session.event_hub.publish(event, on_error="ignore")
        except Exception:  # noqa: BLE001 - a notification must not undo a finished transfer
            logger.debug("could not publish %s", topic, exc_info=True)


class _SourceContexts:
    """The structure context of each planned component: its identifier in its source.

    Identifiers are looked up once per source location for the whole plan.
    """

    def __init__(self, plan: list[tuple[Entity, Any]]) -> None:
        self._plan = plan
        self._found: dict[int, dict[str, str]] = {}

    def __call__(self, component: Entity, source: Any) -> dict[str, Any]:
        if source is None:
            return {}
        if isinstance(source, str):
            return {"source_resource_identifier": source}
        found = self._found.get(id(source))
        if found is None:
            wanted = [each for each, origin in self._plan if origin is source]
            found = self._found[id(source)] = source._identifiers(wanted)
        identifier = found.get(str(component["id"]))
        if identifier is None:
            return {}
        return {"source_resource_identifier": source._decode(component, identifier)}


def _was_there(planned: tuple[Entity, str], folders: TargetFolders | None) -> bool:
    """Whether the data at a planned target was found there before this transfer."""
    return folders is not None and planned[1] in folders.existing


def _source_list(components: list[Entity], sources: Any) -> list[Any]:
    if isinstance(sources, (str, LocationMixin)) or not isinstance(sources, Sequence):
        return [sources]
    source_list = list(sources)
    if len(source_list) not in (1, len(components)):
        raise ValueError(
            "sources must be either a single source or a sequence of sources with indexes"
            " corresponding to passed components."
        )
    return source_list


def _plan(
    components: list[Entity], sources: list[Any], recursive: bool
) -> list[tuple[Entity, Any]]:
    """Each component with its source, container members (recursively) before the container."""
    plan: list[tuple[Entity, Any]] = []
    for index, component in enumerate(components):
        source = sources[0] if len(sources) == 1 else sources[index]
        if recursive and is_container(component):
            members = list(component["members"])
            plan.extend(_plan(members, [source], recursive))
        plan.append((component, source))
    return plan


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), QUERY_CHUNK):
        yield ids[start : start + QUERY_CHUNK]


def _quoted(value: Any) -> str:
    text = str(value)
    if '"' in text or "\\" in text:
        raise LocationError(f"Invalid id {text!r}.")
    return f'"{text}"'


def configure_builtin_locations(session: Session) -> None:
    """Give the built-in locations their accessors and structures (as the official client)."""
    from shotbase.client.server_accessor import ServerAccessor
    from shotbase.storage.accessor.path import PathAccessor
    from shotbase.storage.structure import EntityIdStructure, OriginStructure

    local = PathAccessor()
    for location_id, priority, in_memory in (
        (ORIGIN_LOCATION_ID, 100, True),
        (UNMANAGED_LOCATION_ID, 90, False),
        (REVIEW_LOCATION_ID, 110, False),
    ):
        setup = session._locations.get(location_id)
        setup.accessor, setup.structure, setup.priority = local, OriginStructure(), priority
        setup.managed, setup.in_memory = False, in_memory
    server = session._locations.get(SERVER_LOCATION_ID)
    server.accessor, server.structure = ServerAccessor(session), EntityIdStructure()
    server.priority = 150
