"""Storage of entities: tables generated from the schema, SQLite or PostgreSQL."""

from __future__ import annotations

from shotbase.store.engine import Database, open_database
from shotbase.store.migrations import upgrade
from shotbase.store.tables import Tables, build_tables
from shotbase.store.writer import Writer, WrittenEntity

__all__ = [
    "Database",
    "Tables",
    "Writer",
    "WrittenEntity",
    "build_tables",
    "open_database",
    "upgrade",
]
