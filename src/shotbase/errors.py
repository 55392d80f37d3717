"""The shotbase exception tree.

Every error has a stable ``code`` and a wire ``exception`` name (what the ftrack ``/api``
error object carries in ``exception``)::

    ShotbaseError                               shotbase.error
    ├── ConfigurationError                      configuration.invalid
    ├── AuthenticationError                     auth.invalid_credentials
    ├── RequestError                            request.invalid
    │   └── UnknownActionError                  request.unknown_action
    ├── SchemaError                             schema.invalid
    │   ├── UnknownEntityTypeError              schema.unknown_entity_type
    │   └── UnknownAttributeError               schema.unknown_attribute
    ├── QueryError                              query.invalid
    │   ├── QuerySyntaxError                    query.syntax
    │   ├── NoResultFoundError                  query.no_result
    │   └── MultipleResultsFoundError           query.multiple_results
    ├── ValidationError                         entity.invalid
    │   ├── MissingAttributeError               entity.missing_attribute
    │   └── ImmutableAttributeError             entity.immutable_attribute
    ├── EntityNotFoundError                     entity.not_found
    │   └── ReferenceNotFoundError              entity.reference_not_found
    ├── DuplicateEntityError                    entity.duplicate
    ├── ServerError                             server.internal
    ├── ClientError                             client.error
    │   ├── ConnectionFailedError               client.connection_failed
    │   ├── ConnectionClosedError               client.connection_closed
    │   ├── MalformedResponseError              client.malformed_response
    │   ├── ServerCompatibilityError            client.server_incompatible
    │   └── NotSupportedError                   client.not_supported
    ├── LocationError                           location.error
    │   ├── ComponentNotInLocationError         location.component_not_in_location
    │   └── ComponentInLocationError            location.component_in_location
    └── AccessorError                           accessor.error
        ├── AccessorUnsupportedOperationError   accessor.unsupported
        ├── AccessorResourceNotFoundError       accessor.not_found
        ├── AccessorParentResourceNotFoundError accessor.parent_not_found
        ├── AccessorResourceInvalidError        accessor.invalid_resource
        ├── AccessorPermissionDeniedError       accessor.permission_denied
        ├── AccessorContainerNotEmptyError      accessor.container_not_empty
        ├── AccessorTransferFailedError         accessor.transfer_failed
        └── AccessorConnectionError             accessor.connection_failed

Accessor errors carry the ``resource_identifier`` they concern (None when the error is about the
storage as a whole, such as a refused connection).

The client (``shotbase.Session``) rebuilds the class of a server error from ``error_code``, so
callers catch classes and never match on message text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import ClassVar

__all__ = [
    "AccessorConnectionError",
    "AccessorContainerNotEmptyError",
    "AccessorError",
    "AccessorParentResourceNotFoundError",
    "AccessorPermissionDeniedError",
    "AccessorResourceInvalidError",
    "AccessorResourceNotFoundError",
    "AccessorTransferFailedError",
    "AccessorUnsupportedOperationError",
    "AuthenticationError",
    "ClientError",
    "ComponentInLocationError",
    "ComponentNotInLocationError",
    "ConfigurationError",
    "ConnectionClosedError",
    "ConnectionFailedError",
    "DuplicateEntityError",
    "EntityNotFoundError",
    "ImmutableAttributeError",
    "LocationError",
    "MalformedResponseError",
    "MissingAttributeError",
    "MultipleResultsFoundError",
    "NoResultFoundError",
    "NotSupportedError",
    "QueryError",
    "QuerySyntaxError",
    "ReferenceNotFoundError",
    "RequestError",
    "SchemaError",
    "ServerCompatibilityError",
    "ServerError",
    "ShotbaseError",
    "UnknownActionError",
    "UnknownAttributeError",
    "UnknownEntityTypeError",
    "ValidationError",
    "closest",
]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate most similar to ``name``, or None when nothing is close."""
    if not isinstance(name, str):
        return None
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _listed(items: Sequence[object], limit: int | None = None) -> str:
    """``items`` joined by commas; past ``limit`` of them, the rest are counted: "and 3 more"."""
    shown = ", ".join(str(item) for item in items[:limit])
    hidden = len(items) - limit if limit is not None else 0
    return f"{shown} and {hidden} more" if hidden > 0 else shown


class ShotbaseError(Exception):
    """Root of every error shotbase raises on purpose."""

    code = "shotbase.error"
    wire_name = "ServerError"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(ShotbaseError):
    """A setting or argument has a value that cannot work."""

    code = "configuration.invalid"
    wire_name = "ConfigurationError"
    http_status = 500


class AuthenticationError(ShotbaseError):
    """The request carried no credentials or wrong ones."""

    code = "auth.invalid_credentials"
    wire_name = "InvalidCredentialsError"
    http_status = 401


class RequestError(ShotbaseError):
    """The request body is not a valid batch of operations."""

    code = "request.invalid"
    wire_name = "ValueError"
    http_status = 400


class UnknownActionError(RequestError):
    """An operation names an action this server does not offer."""

    code = "request.unknown_action"

    def __init__(self, action: str) -> None:
        # The official client recognises this exact wording as "not supported by the server".
        super().__init__(f"Invalid action u'{action}'")
        self.action = action


class SchemaError(ShotbaseError):
    """The schema definition is inconsistent, or a name is not in it."""

    code = "schema.invalid"
    wire_name = "SchemaError"
    http_status = 400


class UnknownEntityTypeError(SchemaError):
    """An entity type name that the schema does not define."""

    code = "schema.unknown_entity_type"
    wire_name = "UnknownEntityTypeError"

    def __init__(self, name: str, known: Iterable[str] = ()) -> None:
        suggestion = closest(name, known)
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"Unknown entity type {name!r}.{hint}")
        self.name, self.suggestion = name, suggestion


class UnknownAttributeError(SchemaError):
    """An attribute name that the entity type does not have."""

    code = "schema.unknown_attribute"
    wire_name = "UnknownAttributeError"

    def __init__(self, entity_type: str, name: str, known: Iterable[str] = ()) -> None:
        suggestion = closest(name, known)
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"{entity_type} has no attribute {name!r}.{hint}")
        self.entity_type, self.name, self.suggestion = entity_type, name, suggestion


class QueryError(ShotbaseError):
    """A query is well formed but cannot be run."""

    code = "query.invalid"
    wire_name = "QueryError"
    http_status = 400


class QuerySyntaxError(QueryError):
    """A query cannot be parsed; the message shows where."""

    code = "query.syntax"
    wire_name = "ParseError"

    def __init__(self, expected: str, text: str, line: int, column: int) -> None:
        lines = text.split("\n")  # the parser counts lines by "\n" only
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        pointer = " " * (column - 1) + "^"
        super().__init__(
            f"expected {expected} at line {line}, column {column}\n  {source_line}\n  {pointer}"
        )
        self.expected, self.text, self.line, self.column = expected, text, line, column


class NoResultFoundError(QueryError):
    """A query expected exactly one entity and found none."""

    code = "query.no_result"
    wire_name = "NoResultFoundError"
    http_status = 404


class MultipleResultsFoundError(QueryError):
    """A query expected exactly one entity and found several."""

    code = "query.multiple_results"
    wire_name = "MultipleResultsFoundError"
    http_status = 409


class ValidationError(ShotbaseError):
    """Entity data breaks a rule of the schema."""

    code = "entity.invalid"
    wire_name = "ValidationError"
    http_status = 400


class MissingAttributeError(ValidationError):
    """A required attribute has no value."""

    code = "entity.missing_attribute"

    def __init__(self, entity_type: str, name: str) -> None:
        super().__init__(f"{entity_type} requires a value for {name!r}.")
        self.entity_type, self.name = entity_type, name


class ImmutableAttributeError(ValidationError):
    """An update tried to change an attribute that is fixed after creation."""

    code = "entity.immutable_attribute"

    def __init__(self, entity_type: str, name: str) -> None:
        super().__init__(f"{entity_type} attribute {name!r} cannot be changed after creation.")
        self.entity_type, self.name = entity_type, name


class EntityNotFoundError(ShotbaseError):
    """An operation refers to an entity that does not exist."""

    code = "entity.not_found"
    wire_name = "NotFoundError"
    http_status = 404

    def __init__(self, entity_type: str, key: Iterable[object]) -> None:
        self.entity_type, self.key = entity_type, tuple(key)
        super().__init__(f"No {entity_type} with key ({_listed(self.key)}) exists.")


class ReferenceNotFoundError(EntityNotFoundError):
    """An attribute refers to an entity that does not exist."""

    code = "entity.reference_not_found"

    def __init__(self, where: str, entity_type: str, key: Iterable[object]) -> None:
        super().__init__(entity_type, key)
        shown = _listed(self.key)
        self.message = f"{where} refers to a {entity_type} ({shown}) that does not exist."
        self.args = (self.message,)
        self.where = where


class DuplicateEntityError(ShotbaseError):
    """A create or update would give two entities the same key or unique value."""

    code = "entity.duplicate"
    # The official client recognises duplicates by this name (e.g. in User.start_timer).
    wire_name = "DuplicateEntryError"
    http_status = 409

    def __init__(self, entity_type: str, key: Iterable[object]) -> None:
        self.entity_type, self.key = entity_type, tuple(key)
        super().__init__(f"A {entity_type} with key ({_listed(self.key)}) already exists.")


class LocationError(ShotbaseError):
    """A location could not add, remove or find component data.

    ``details`` holds what the failure concerns (``components``, ``location``, ``transferred``),
    under the keys the official client uses.
    """

    code = "location.error"
    wire_name = "LocationError"
    http_status = 500

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.details = dict(details or {})


class _ComponentsLocationError(LocationError):
    """Base of the errors about where some components are registered (not exported).

    Subclasses set ``relation``, the words between the components and the location.
    """

    relation: ClassVar[str]

    def __init__(self, components: Iterable[object], location: object) -> None:
        self.components, self.location = list(components), location
        shown = _listed(self.components, limit=5)
        super().__init__(
            f"Component(s) {shown} {self.relation} location {location}.",
            {"components": self.components, "location": location},
        )


class ComponentNotInLocationError(_ComponentsLocationError):
    """Some components are not registered in the location."""

    code = "location.component_not_in_location"
    wire_name = "ComponentNotInLocationError"
    http_status = 404
    relation = "not found in"


class ComponentInLocationError(_ComponentsLocationError):
    """Some components are already registered in the location."""

    code = "location.component_in_location"
    wire_name = "ComponentInLocationError"
    http_status = 409
    relation = "already exist in"


class AccessorError(ShotbaseError):
    """An accessor could not carry out an operation on its storage."""

    code = "accessor.error"
    wire_name = "AccessorError"
    http_status = 500

    def __init__(self, message: str, resource_identifier: str | None = None) -> None:
        super().__init__(message)
        self.resource_identifier = resource_identifier


class AccessorUnsupportedOperationError(AccessorError):
    """The accessor cannot do this at all (e.g. a file system path of the server store)."""

    code = "accessor.unsupported"
    wire_name = "AccessorUnsupportedOperationError"
    http_status = 501


class AccessorResourceNotFoundError(AccessorError):
    """The resource identifier names nothing in the storage."""

    code = "accessor.not_found"
    wire_name = "AccessorResourceNotFoundError"
    http_status = 404


class AccessorParentResourceNotFoundError(AccessorError):
    """The container a resource should be in does not exist or cannot be determined."""

    code = "accessor.parent_not_found"
    wire_name = "AccessorParentResourceNotFoundError"
    http_status = 404


class AccessorResourceInvalidError(AccessorError):
    """A resource identifier is malformed, escapes the storage root, or has the wrong kind."""

    code = "accessor.invalid_resource"
    wire_name = "AccessorResourceInvalidError"
    http_status = 400


class AccessorPermissionDeniedError(AccessorError):
    """The storage refused the operation for lack of permission."""

    code = "accessor.permission_denied"
    wire_name = "AccessorPermissionDeniedError"
    http_status = 403


class AccessorContainerNotEmptyError(AccessorError):
    """A container cannot be removed because it still has entries."""

    code = "accessor.container_not_empty"
    wire_name = "AccessorContainerNotEmptyError"
    http_status = 409


class AccessorTransferFailedError(AccessorError):
    """Data could not be written or read completely (disk full, short write, I/O error)."""

    code = "accessor.transfer_failed"
    wire_name = "AccessorOperationFailedError"
    http_status = 502


class AccessorConnectionError(AccessorError):
    """The storage could not be reached, refused the credentials, or has an untrusted host key."""

    code = "accessor.connection_failed"
    wire_name = "AccessorConnectionError"
    http_status = 502


class ServerError(ShotbaseError):
    """The server failed unexpectedly; its log has the details."""

    code = "server.internal"
    wire_name = "ServerError"
    http_status = 500


class ClientError(ShotbaseError):
    """The client could not complete a call (root of the client-side errors)."""

    code = "client.error"
    wire_name = "ClientError"
    http_status = 400


class ConnectionFailedError(ClientError):
    """The server could not be reached, or the connection broke during a call."""

    code = "client.connection_failed"
    wire_name = "ConnectionFailedError"
    http_status = 503


class ConnectionClosedError(ClientError):
    """The session is closed and cannot make calls any more."""

    code = "client.connection_closed"
    wire_name = "ConnectionClosedError"
    http_status = 400


class MalformedResponseError(ClientError):
    """The server answered with something that is not a valid ``/api`` response."""

    code = "client.malformed_response"
    wire_name = "MalformedResponseError"
    http_status = 502


class ServerCompatibilityError(ClientError):
    """The server's version is too old for this client."""

    code = "client.server_incompatible"
    wire_name = "ServerCompatibilityError"
    http_status = 400


class NotSupportedError(ClientError):
    """A feature the client or the server does not support yet."""

    code = "client.not_supported"
    wire_name = "NotSupportedError"
    http_status = 501
