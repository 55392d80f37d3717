"""shotbase's own client: ``Session`` with the ftrack-style API, caches and plugins."""

from __future__ import annotations

from shotbase.client.cache import (
    Cache,
    FileCache,
    KeyMaker,
    LayeredCache,
    MemoryCache,
    ObjectKeyMaker,
    ProxyCache,
    SerialisedCache,
    StringKeyMaker,
)
from shotbase.client.collection import Collection, CustomAttributes, MetadataMapping
from shotbase.client.entity import Entity
from shotbase.client.query_result import QueryResult
from shotbase.client.session import Session
from shotbase.client.symbol import NOT_SET, UNSET
from shotbase.client.transport import AsgiTransport, HttpTransport, Transport

__all__ = [
    "NOT_SET",
    "UNSET",
    "AsgiTransport",
    "Cache",
    "Collection",
    "CustomAttributes",
    "Entity",
    "FileCache",
    "HttpTransport",
    "KeyMaker",
    "LayeredCache",
    "MemoryCache",
    "MetadataMapping",
    "ObjectKeyMaker",
    "ProxyCache",
    "QueryResult",
    "SerialisedCache",
    "Session",
    "StringKeyMaker",
    "Transport",
]
