"""``Session``: the ftrack-style API over shotbase's ``/api`` (a facade over small parts)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import orjson

from shotbase.client import server_actions
from shotbase.client.cache import Cache, KeyMaker, LayeredCache, StringKeyMaker
from shotbase.client.codec import dumps, encode_entity, encode_value
from shotbase.client.component import ComponentActions
from shotbase.client.config import resolve_connection
from shotbase.client.entity import CREATED, DELETED, PERSISTED, Entity
from shotbase.client.expressions import key_criteria, literal
from shotbase.client.factory import EntityTypes
from shotbase.client.helpers import check_create
from shotbase.client.location import LocationRegistry, configure_builtin_locations
from shotbase.client.merge import IdentityMap, paused_gc
from shotbase.client.operation import (
    CreateOperation,
    DeleteOperation,
    Identity,
    Operation,
    UpdateOperation,
    squash,
)
from shotbase.client.plugin import discover
from shotbase.client.query_result import QueryResult
from shotbase.client.remote_errors import error_from_body, is_error_body
from shotbase.client.schema import AttributeKind, load_cached_schemas, store_cached_schemas
from shotbase.client.symbol import UNSET
from shotbase.client.transport import HttpTransport, Transport
from shotbase.client.version import check_server_version
from shotbase.errors import (
    ConnectionClosedError,
    MalformedResponseError,
    NoResultFoundError,
    NotSupportedError,
    UnknownAttributeError,
)
from shotbase.events import Event

__all__ = ["Session"]

logger = logging.getLogger(__name__)

POPULATE_CHUNK = 500
CONFIGURE_LOCATION_TOPIC = "ftrack.api.session.configure-location"
READY_TOPIC = "ftrack.api.session.ready"
CONSTRUCT_ENTITY_TYPE_TOPIC = "ftrack.api.session.construct-entity-type"


class Session(ComponentActions, server_actions.ServerActions):
    """A connection to a shotbase (or ftrack) server with the ftrack-style API.

    Example::

        with Session("https://studio.example.com", api_key=..., api_user="jo") as session:
            shot = session.query('Shot where name is "sh010"').one()
            shot["description"] = "hero shot"
            session.commit()
    """

    def __init__(
        self,
        server_url: str | None = None,
        api_key: str | None = None,
        api_user: str | None = None,
        auto_populate: bool = True,
        plugin_paths: Sequence[str] | None = None,
        cache: Cache | Callable[[Session], Cache | None] | None = None,
        cache_key_maker: KeyMaker | None = None,
        auto_connect_event_hub: bool = False,
        schema_cache_path: str | Literal[False] | None = None,
        plugin_arguments: Mapping[str, Any] | None = None,
        strict_api: bool = False,
        transport: Transport | None = None,
    ) -> None:
        """Connect, check the server, load the schemas and register plugins.

        Raises:
            ConfigurationError: If the server URL, API key or user cannot be determined.
            ConnectionFailedError: If the server cannot be reached.
            AuthenticationError: If the server refuses the credentials.
            ServerCompatibilityError: If the server is too old.
        """
        settings = resolve_connection(
            server_url, api_key, api_user, plugin_paths, schema_cache_path
        )
        self._settings = settings
        self._transport = transport if transport is not None else HttpTransport(settings.server_url)
        self._headers = {
            "content-type": "application/json",
            "ftrack-user": settings.api_user,
            "ftrack-api-key": settings.api_key,
            "ftrack-strict-api": "true" if strict_api else "false",
        }
        self._lock = threading.RLock()
        self._flags = threading.local()
        self._auto_populate = auto_populate
        self._closed = False
        self._operations: list[Operation] = []
        self._event_hub: Any = None
        self.cache_key_maker: KeyMaker = cache_key_maker or StringKeyMaker()
        self._server_information: dict[str, Any] = {}
        try:
            self._server_information = self._call_raw([{"action": "query_server_information"}])[0]
            self.check_server_compatibility()
            self.types = EntityTypes(self._load_schemas(), customize=self._construct_entity_type)
        except BaseException:
            self._transport.close()
            raise
        self._identity = IdentityMap(self, self.types)
        self._user_cache: Cache | None = _resolve_cache(cache, self)
        self.cache = LayeredCache([self._user_cache] if self._user_cache is not None else [])
        if self._user_cache is not None:
            self._identity.on_merge = self._write_through
        self._locations = LocationRegistry()
        configure_builtin_locations(self)
        if auto_connect_event_hub:
            self.event_hub.connect()
        discover(settings.plugin_paths, [self], dict(plugin_arguments or {}))
        self.event_hub.publish(Event(CONFIGURE_LOCATION_TOPIC, data={"session": self}))
        self.event_hub.publish(Event(READY_TOPIC, data={"session": self}))
        logger.debug("session ready on %s as %s", settings.server_url, settings.api_user)

    @classmethod
    def local(cls, path: str | Path, **options: Any) -> Session:
        """A session on an in-process shotbase server over a SQLite file under ``path``.

        The first use creates the database, the ``admin`` user and an API key (kept in
        ``path``); no port is opened and no other service is needed.

        Args:
            path: Directory for the database (created if missing).
            options: Further ``Session`` arguments (``auto_populate``, ``cache``...).
        """
        # Only here does the client import the server; the rest never does.
        from shotbase.client.local import open_local_server

        transport, api_user, api_key = open_local_server(Path(path))
        options.setdefault("schema_cache_path", False)
        return cls("http://shotbase.local", api_key, api_user, transport=transport, **options)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Session(server_url={self.server_url!r}, api_user={self.api_user!r}, {state})"

    # Properties ---------------------------------------------------------------------------

    @property
    def server_url(self) -> str:
        """The server's base URL."""
        return self._settings.server_url

    @property
    def api_user(self) -> str:
        """The user the session acts as."""
        return self._settings.api_user

    @property
    def api_key(self) -> str:
        """The API key the session authenticates with."""
        return self._settings.api_key

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def server_information(self) -> dict[str, Any]:
        """The server's answer to ``query_server_information``."""
        return dict(self._server_information)

    @property
    def auto_populate(self) -> bool:
        """Whether reading an unloaded attribute fetches it (per thread when overridden)."""
        return bool(getattr(self._flags, "auto_populate", self._auto_populate))

    @auto_populate.setter
    def auto_populate(self, value: bool) -> None:
        self._auto_populate = value

    @property
    def record_operations(self) -> bool:
        """Whether changes are recorded for the next commit (per thread when overridden)."""
        return bool(getattr(self._flags, "record_operations", True))

    @property
    def event_hub(self) -> Any:
        """The event hub of this session, built on first use.

        Raises:
            NotSupportedError: If this installation has no event hub module.
        """
        if self._event_hub is None:
            if importlib.util.find_spec("shotbase.client.event_hub") is None:
                raise NotSupportedError("The event hub is not supported yet.")
            module = importlib.import_module("shotbase.client.event_hub")
            self._event_hub = module.EventHub(self.server_url, self.api_user, self.api_key)
        return self._event_hub

    @property
    def created(self) -> list[Entity]:
        """Entities created and not committed yet."""
        return self._entities_of(CreateOperation)

    @property
    def modified(self) -> list[Entity]:
        """Existing entities with uncommitted changes."""
        created = {op.identity for op in self._operations if isinstance(op, CreateOperation)}
        return [e for e in self._entities_of(UpdateOperation) if e.identity not in created]

    @property
    def deleted(self) -> list[Entity]:
        """Entities marked for deletion and not committed yet."""
        return self._entities_of(DeleteOperation)

    def _entities_of(self, kind: type[Operation]) -> list[Entity]:
        with self._lock:
            identities = dict.fromkeys(
                op.identity for op in self._operations if isinstance(op, kind)
            )
            return [self._identity.entities[i] for i in identities if i in self._identity.entities]

    # Life cycle ---------------------------------------------------------------------------

    def _construct_entity_type(self, cls: type[Entity], schema: Mapping[str, Any]) -> type[Entity]:
        """Let plugins replace an entity class with a subclass of it (first answer wins)."""
        event = Event(
            CONSTRUCT_ENTITY_TYPE_TOPIC,
            data={"schema": schema, "schemas": self.types.schemas, "base": cls, "session": self},
        )
        for answer in self.event_hub.publish(event, synchronous=True) or ():
            if answer is None:
                continue
            if isinstance(answer, type) and issubclass(answer, cls):
                return answer
            logger.warning(
                "ignored the class a plugin built for %s: it must subclass event['data']['base']",
                cls.entity_type,
            )
        return cls

    def check_server_compatibility(self) -> None:
        """Check the server's version.

        Raises:
            ServerCompatibilityError: If it is missing or older than 3.3.11.
        """
        check_server_version(self._server_information.get("version"))

    def close(self) -> None:
        """Close the connection, the event hub and the locations' accessors (their SFTP
        connections); further calls fail."""
        if self._closed:
            return
        self._closed = True
        self._locations.close_accessors()
        if self._event_hub is not None and hasattr(self._event_hub, "disconnect"):
            with contextlib.suppress(Exception):
                self._event_hub.disconnect()
        self._transport.close()
        logger.debug("session closed")

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def reset(self) -> None:
        """Forget recorded operations and every cached entity (the caches are cleared)."""
        with self._lock:
            self._operations.clear()
            self._identity.entities.clear()
            self.cache.clear()

    @contextlib.contextmanager
    def auto_populating(self, auto_populate: bool) -> Iterator[None]:
        """Turn auto-population on or off for this thread inside the block."""
        previous = getattr(self._flags, "auto_populate", None)
        self._flags.auto_populate = auto_populate
        try:
            yield
        finally:
            if previous is None:
                del self._flags.auto_populate
            else:
                self._flags.auto_populate = previous

    @contextlib.contextmanager
    def operation_recording(self, record_operations: bool) -> Iterator[None]:
        """Turn recording of changes on or off for this thread inside the block."""
        previous = getattr(self._flags, "record_operations", None)
        self._flags.record_operations = record_operations
        try:
            yield
        finally:
            if previous is None:
                del self._flags.record_operations
            else:
                self._flags.record_operations = previous

    # Calls --------------------------------------------------------------------------------

    def _call_raw(self, operations: Sequence[Mapping[str, Any]]) -> list[Any]:
        if self._closed:
            raise ConnectionClosedError("The session is closed; open a new Session.")
        status, raw = self._transport.post(dumps(list(operations)), self._headers)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise MalformedResponseError(
                f"{self.server_url}/api answered HTTP {status} with a body that is not JSON: "
                f"{raw[:200]!r}"
            ) from None
        if is_error_body(body):
            raise error_from_body(body)
        if not isinstance(body, list) or len(body) != len(operations):
            raise MalformedResponseError(
                f"{self.server_url}/api answered HTTP {status} with {type(body).__name__} "
                f"instead of a list of {len(operations)} results."
            )
        return body

    def call(self, operations: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Send one batch of operations and merge the entities in the answer.

        Raises:
            ShotbaseError: The server's error, rebuilt from its ``error_code``.
            ConnectionFailedError: If the server cannot be reached.
            ConnectionClosedError: If the session is closed.
        """
        encoded = [encode_value(operation) for operation in operations]
        results = self._call_raw(encoded)
        with self._lock, paused_gc():
            merged: list[Any] = self._identity.merge(results)
        return merged

    def _load_schemas(self) -> list[Any]:
        schema_hash = self._server_information.get("schema_hash")
        directory = self._settings.schema_cache_path
        schemas = load_cached_schemas(directory, schema_hash)
        if schemas is None:
            schemas = self._call_raw([{"action": "query_schemas"}])[0]
            if not isinstance(schemas, list):
                raise MalformedResponseError("query_schemas did not answer a list of schemas.")
            store_cached_schemas(directory, schema_hash, schemas)
        return schemas

    # Reading ------------------------------------------------------------------------------

    def query(self, expression: str, page_size: int = 500) -> QueryResult:
        """Run a query lazily, fetching pages as the result is consumed.

        Without ``select``, the type's default projections are selected. Any ``offset`` or
        ``limit`` in ``expression`` is applied by the result's paging.

        Args:
            expression: Query text, e.g. ``Task where status.state.short is "DONE"``.
            page_size: Most entities fetched per request.
        Raises:
            UnknownEntityTypeError: If the expression names an unknown entity type.
        """
        text = expression.strip()
        if not text.lower().startswith("select"):
            entity_type = text.split(" ", 1)[0]
            cls = self.types.require(entity_type)
            text = f"select {', '.join(cls.default_projections)} from {text}"
        return QueryResult(self._fetch_page, text, page_size)

    def _fetch_page(self, expression: str) -> tuple[list[Any], int | None]:
        result = self.call([{"action": "query", "expression": expression}])[0]
        metadata = result.get("metadata") or {}
        following = (metadata.get("next") or {}).get("offset")
        data = result.get("data")
        # The merge built this list for us: hand it on without a copy.
        return (data if type(data) is list else list(data or [])), following

    def get(self, entity_type: str, entity_key: Any) -> Entity | None:
        """The entity of ``entity_type`` with ``entity_key``: from the caches, else the server.

        Args:
            entity_type: Type name, e.g. ``"Shot"``.
            entity_key: Primary-key value, or a list of values for composite keys.
        Returns:
            The entity, or None if it does not exist.
        Raises:
            ValueError: If ``entity_key`` has the wrong number of values.
        """
        cls = self.types.require(entity_type)
        values = [entity_key] if isinstance(entity_key, (str, int)) else list(entity_key)
        names = cls.primary_key_attributes
        if len(values) != len(names):
            raise ValueError(
                f"Incompatible entity_key {entity_key!r}: {entity_type} expects {len(names)} "
                f"values ({', '.join(names)})."
            )
        identity = (entity_type, tuple(str(value) for value in values))
        found = self._identity.entities.get(identity)
        if found is not None:
            return found
        cached = self._from_user_cache(identity)
        if cached is not None:
            return cached
        criteria = " and ".join(
            f'{name} is "{value}"' for name, value in zip(names, values, strict=True)
        )
        found = self.query(
            f"select {', '.join(cls.default_projections)} from {entity_type} where ({criteria})"
        ).first()
        return found if isinstance(found, Entity) else None

    def _cache_key(self, identity: Identity) -> str:
        return self.cache_key_maker.key(identity[0], *identity[1])

    def _from_user_cache(self, identity: Identity) -> Entity | None:
        if self._user_cache is None:
            return None
        try:
            value = self._user_cache.get(self._cache_key(identity))
        except KeyError:
            return None
        return value if isinstance(value, Entity) else None

    def _write_through(self, entity: Entity) -> None:
        assert self._user_cache is not None
        try:
            self._user_cache.set(self._cache_key(entity.identity), entity)
        except Exception:  # noqa: BLE001 - a failing secondary cache must not fail a query
            logger.warning("could not write %r to the cache", entity, exc_info=True)

    def populate(self, entities: Entity | Iterable[Entity], projections: str) -> None:
        """Load ``projections`` (e.g. ``"name, parent.name"``) for ``entities`` in one request.

        Entities not committed yet are skipped.
        """
        chosen = [entities] if isinstance(entities, Entity) else list(entities)
        by_type: dict[str, list[Entity]] = {}
        for entity in chosen:
            if entity._state == PERSISTED:
                by_type.setdefault(entity.entity_type, []).append(entity)
        operations = []
        for entity_type, group in by_type.items():
            for start in range(0, len(group), POPULATE_CHUNK):
                chunk = group[start : start + POPULATE_CHUNK]
                where = key_criteria(chunk)
                expression = f"select {projections} from {entity_type} where {where}"
                operations.append({"action": "query", "expression": expression})
        if operations:
            self.call(operations)

    def _load_attribute(self, entity: Entity, name: str) -> Any:
        attribute = entity.info.attributes[name]
        if entity._state == CREATED and name in entity.info.collections:
            return []
        if entity._state != PERSISTED or not self.auto_populate:
            return UNSET
        if attribute.kind is AttributeKind.REFERENCE and attribute.target in self.types:
            target = self.types[str(attribute.target)]
            projection = ", ".join(f"{name}.{each}" for each in target.default_projections)
        else:
            projection = name
        self.populate(entity, projection or name)
        value = entity._remote_value(name)
        if value is UNSET and attribute.kind is AttributeKind.REFERENCE:
            value = None
            entity._update_remote((name,), (value,))
        return value

    def _load_all(self, entity: Entity) -> None:
        info = entity.info
        missing = [
            name
            for name in (*info.plain, *info.datetimes)
            if entity._local_value(name) is UNSET and entity._remote_value(name) is UNSET
        ]
        if missing and entity._state == PERSISTED and self.auto_populate:
            self.populate(entity, ", ".join(sorted(missing)))

    # Writing ------------------------------------------------------------------------------

    def create(
        self, entity_type: str, data: Mapping[str, Any] | None = None, reconstructing: bool = False
    ) -> Entity:
        """Create an entity locally; it is sent to the server by :meth:`commit`.

        Schema defaults are applied (``{uid}`` becomes a new UUID). With ``reconstructing``,
        ``data`` is taken as the server's values and nothing is recorded.

        Raises:
            UnknownEntityTypeError: If the schema has no ``entity_type``.
            UnknownAttributeError: If ``data`` names an attribute the type does not have.
            ValueError: If a primary-key value is missing, or data is invalid for the type.
        """
        cls = self.types.require(entity_type)
        data = dict(data or {})
        if reconstructing:
            return self._identity.merge_entity(entity_type, encode_value(data))
        check_create(entity_type, data)
        info = cls.info
        unknown = [name for name in data if name not in info.attributes]
        if unknown:
            raise UnknownAttributeError(entity_type, unknown[0], info.attributes)
        scalars: dict[str, Any] = {}
        for name, attribute in info.attributes.items():
            if name not in data and attribute.default is not UNSET and not attribute.is_relational:
                default = attribute.default
                scalars[name] = str(uuid.uuid4()) if default == "{uid}" else default
        relational: dict[str, Any] = {}
        for name, value in data.items():
            if info.attributes[name].is_relational:
                relational[name] = list(value) if isinstance(value, (list, tuple)) else value
            else:
                scalars[name] = value
        missing = [name for name in info.primary_key if scalars.get(name) is None]
        if missing:
            raise ValueError(f"{entity_type} needs a value for its key {missing[0]!r}.")
        entity = cls(self, CREATED)
        with self._lock:
            entity._local.update(scalars)
            identity = entity.identity
            self._identity.entities[identity] = entity
            key = {name: scalars[name] for name in info.primary_key}
            if self.record_operations:
                self._operations.append(CreateOperation(identity, key, scalars))
            for name, value in relational.items():
                self._set_attribute(entity, name, value)
        return entity

    def _set_attribute(self, entity: Entity, name: str, value: Any) -> None:
        with self._lock:
            entity._local[name] = value
            if self.record_operations:
                identity = entity.identity
                key = dict(zip(entity.primary_key_attributes, identity[1], strict=True))
                self._operations.append(UpdateOperation(identity, key, name, value))

    def delete(self, entity: Entity) -> None:
        """Mark ``entity`` for deletion at the next :meth:`commit`."""
        with self._lock:
            if self.record_operations:
                identity = entity.identity
                key = dict(zip(entity.primary_key_attributes, identity[1], strict=True))
                self._operations.append(DeleteOperation(identity, key))

    def ensure(
        self,
        entity_type: str,
        data: Mapping[str, Any],
        identifying_keys: Sequence[str] | None = None,
    ) -> Entity:
        """The entity matching ``data`` on ``identifying_keys``, created or updated to match.

        Raises:
            ValueError: If there are no identifying keys.
            KeyError: If an identifying key is missing from ``data``.
            MultipleResultsFoundError: If several entities match.
        """
        keys = list(identifying_keys or data.keys())
        if not keys:
            raise ValueError(
                f"Could not determine any identifying data to check against when ensuring "
                f"{entity_type!r} with data {dict(data)!r}."
            )
        criteria = " and ".join(f"{key} is {literal(data[key])}" for key in keys)
        try:
            entity: Entity = self.query(f"{entity_type} where {criteria}").one()
        except NoResultFoundError:
            created = self.create(entity_type, data)
            self.commit()
            return created
        changed = False
        for name, value in data.items():
            if entity[name] != value:
                entity[name] = value
                changed = True
        if changed:
            self.commit()
        return entity

    def commit(self) -> None:
        """Send every recorded change in one request; on success they become remote values.

        Raises:
            ShotbaseError: The server's error; nothing was stored and the changes stay
                recorded (call :meth:`rollback` to drop them).
        """
        with self._lock:
            operations = list(self._operations)
            payloads = squash(operations)
            if payloads:
                results = self._call_raw([encode_value(payload) for payload in payloads])
            else:
                results = []
            self._operations.clear()
            self._settle(operations)
            for payload, result in zip(payloads, results, strict=True):
                if payload["action"] in ("create", "update") and isinstance(result, dict):
                    self._identity.merge(result.get("data"))
        logger.debug("committed %d operations in %d payloads", len(operations), len(payloads))

    def _settle(self, operations: Sequence[Operation]) -> None:
        deleted = {op.identity for op in operations if isinstance(op, DeleteOperation)}
        for identity in dict.fromkeys(op.identity for op in operations):
            entity = self._identity.entities.get(identity)
            if entity is None:
                continue
            if identity in deleted:
                entity._state = DELETED
                self._identity.discard(identity)
                if self._user_cache is not None:
                    with contextlib.suppress(KeyError):
                        self._user_cache.remove(self._cache_key(identity))
                continue
            entity._remote.update(entity._local)
            entity._local.clear()
            entity._state = PERSISTED

    def rollback(self) -> None:
        """Drop every recorded change; created entities are forgotten."""
        with self._lock:
            for op in self._operations:
                entity = self._identity.entities.get(op.identity)
                if entity is None:
                    continue
                entity._local.clear()
                if isinstance(op, CreateOperation):
                    entity._state = DELETED
                    self._identity.discard(op.identity)
            self._operations.clear()

    # Encoding -----------------------------------------------------------------------------

    def merge(self, value: Any) -> Any:
        """Merge entities (from another session, or decoded data) into this session's cache."""
        if isinstance(value, Entity):
            data = encode_entity(value, "persisted_only")
            with self._lock:
                return self._identity.merge(data)
        if isinstance(value, list):
            return [self.merge(item) for item in value]
        with self._lock:
            return self._identity.merge(encode_value(value))

    def encode(self, data: Any, entity_attribute_strategy: str = "set_only") -> str:
        """JSON text of ``data``; entities carry attributes chosen by the strategy.

        Args:
            data: Any JSON-like value, entities included.
            entity_attribute_strategy: ``all``, ``set_only``, ``modified_only`` or
                ``persisted_only``.
        Raises:
            ValueError: If the strategy is unknown.
        """

        def walk(value: Any) -> Any:
            if isinstance(value, Entity):
                return encode_entity(value, entity_attribute_strategy)
            if isinstance(value, (list, tuple)):
                return [walk(item) for item in value]
            if isinstance(value, Mapping):
                return {key: walk(item) for key, item in value.items()}
            return encode_value(value)

        return dumps(walk(data)).decode()

    def decode(self, text: str | bytes) -> Any:
        """Parse JSON text from :meth:`encode` or the server; entities are merged and returned."""
        with self._lock, paused_gc():
            return self._identity.merge(orjson.loads(text))


def _resolve_cache(
    cache: Cache | Callable[[Session], Cache | None] | None, session: Session
) -> Cache | None:
    if cache is None or hasattr(cache, "get"):
        return cache  # type: ignore[return-value]
    return cache(session)
