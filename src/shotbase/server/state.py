"""What a running server holds: the schema, its tables, the database and the query compiler."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from shotbase.query.compiler import QueryCompiler
from shotbase.schema import Schema, load_builtin_schema
from shotbase.server.file_store import FileStore, UploadSigner
from shotbase.server.page_cursors import PageCursors
from shotbase.settings import Settings
from shotbase.store import Database, Tables, build_tables, open_database, upgrade
from shotbase.store.accounts import create_user, has_users, issue_key
from shotbase.store.planner_statistics import ColumnValues, PlannerStatistics
from shotbase.store.seed import seed

__all__ = ["ServerState", "prepare_database"]

logger = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class ServerState:
    """Shared, read-only after start-up, by every request of one server process."""

    settings: Settings
    schema: Schema
    tables: Tables
    database: Database
    compiler: QueryCompiler
    file_store: FileStore
    upload_signer: UploadSigner
    planner_statistics: PlannerStatistics
    column_values: ColumnValues
    page_cursors: PageCursors = field(default_factory=PageCursors)

    def __repr__(self) -> str:
        return f"ServerState({self.database!r})"

    @classmethod
    def open(cls, settings: Settings) -> ServerState:
        """Open the database named by ``settings`` and bring it up to date."""
        Path(settings.data).mkdir(parents=True, exist_ok=True)
        schema = load_builtin_schema()
        database = open_database(settings.database_url)
        tables = build_tables(schema, database.dialect)
        upgrade(database.engine, tables)
        with database.transaction(write=True) as connection:
            seed(tables, connection)
        data = Path(settings.data)
        return cls(
            settings,
            schema,
            tables,
            database,
            QueryCompiler(tables),
            FileStore(data / "files"),
            UploadSigner.in_directory(data),
            PlannerStatistics(database, tables),
            ColumnValues(tables),
        )

    def close(self) -> None:
        """Release database connections (after a statistics check under way)."""
        self.planner_statistics.wait()
        self.database.dispose()


def prepare_database(state: ServerState, admin_name: str = "admin") -> str | None:
    """On a database without users, create the admin user and return its new API key."""
    with state.database.transaction(write=True) as connection:
        if has_users(state.tables, connection):
            return None
        create_user(state.tables, connection, admin_name, admin=True)
        return issue_key(state.tables, connection, admin_name)
