"""shotbase: self-hosted production tracking, asset management and data delivery."""

from __future__ import annotations

from shotbase.client import (
    NOT_SET,
    FileCache,
    LayeredCache,
    MemoryCache,
    ObjectKeyMaker,
    ProxyCache,
    SerialisedCache,
    Session,
    StringKeyMaker,
)
from shotbase.errors import (
    AuthenticationError,
    ConfigurationError,
    DuplicateEntityError,
    EntityNotFoundError,
    QueryError,
    QuerySyntaxError,
    ShotbaseError,
    UnknownAttributeError,
    UnknownEntityTypeError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "DuplicateEntityError",
    "EntityNotFoundError",
    "FileCache",
    "LayeredCache",
    "MemoryCache",
    "NOT_SET",
    "ObjectKeyMaker",
    "ProxyCache",
    "QueryError",
    "QuerySyntaxError",
    "SerialisedCache",
    "Session",
    "ShotbaseError",
    "StringKeyMaker",
    "UnknownAttributeError",
    "UnknownEntityTypeError",
    "ValidationError",
    "__version__",
]
