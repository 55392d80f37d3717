"""shotbase: self-hosted production tracking, asset management and data delivery."""

from __future__ import annotations

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
    "QueryError",
    "QuerySyntaxError",
    "ShotbaseError",
    "UnknownAttributeError",
    "UnknownEntityTypeError",
    "ValidationError",
    "__version__",
]
