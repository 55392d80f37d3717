"""Database engines: SQLite (embedded default) and PostgreSQL, with their few differences."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from shotbase.errors import ConfigurationError

__all__ = ["Database", "bulk_insert", "open_database"]

# The only places where the dialects differ.
DIALECT_OPTIONS: dict[str, dict[str, Any]] = {
    "sqlite": {"connect_args": {"check_same_thread": False, "timeout": 30}},
    # No server-side prepared statements: a plan made while a table was small (a scan) would
    # be kept for key lookups once it is large.
    "postgresql": {
        "pool_size": 10,
        "max_overflow": 10,
        "pool_pre_ping": True,
        "connect_args": {"prepare_threshold": None},
    },
}


class Database:
    """An engine plus the rule for write transactions (SQLite has one writer at a time)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None

    def __repr__(self) -> str:
        return f"Database(url={self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sa.Connection]:
        """A connection in a transaction that commits on success and rolls back on error."""
        if write and self._write_lock is not None:
            with self._write_lock, self.engine.connect() as connection:
                # Take the write lock at BEGIN so that the transaction never has to upgrade.
                connection.info["begin"] = "BEGIN IMMEDIATE"
                try:
                    with connection.begin():
                        yield connection
                finally:
                    connection.info.pop("begin", None)
            return
        with self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: str) -> Database:
    """Open the database at a SQLAlchemy URL (``sqlite:///path`` or ``postgresql://...``).

    Raises:
        ConfigurationError: If the URL names a database kind shotbase does not support.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"database URL {url!r} is not a valid URL.") from exc
    backend = parsed.get_backend_name()
    if backend not in DIALECT_OPTIONS:
        raise ConfigurationError(
            f"database URL {url!r}: use sqlite:///PATH or postgresql://..., not {backend!r}."
        )
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = sa.create_engine(parsed, **DIALECT_OPTIONS[backend])
    except ImportError as exc:
        raise ConfigurationError(
            "PostgreSQL support needs its driver: pip install 'shotbase[postgres]'."
        ) from exc
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _configure_sqlite)
        sa.event.listen(engine, "begin", _begin_sqlite)
    return Database(engine)


def bulk_insert(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows as fast as the database allows: COPY on PostgreSQL, else executemany."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    import psycopg
    from psycopg.types.json import Json

    names = [column.name for column in table.columns]
    wrap = {column.name for column in table.columns if isinstance(column.type, sa.JSON)}
    preparer = connection.dialect.identifier_preparer
    # Identifiers come from the generated tables, quoted by the dialect; values go through COPY.
    statement = (
        f"COPY {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(name) for name in names)}) FROM STDIN"
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        Json(row.get(name))
                        if name in wrap and row.get(name) is not None
                        else row.get(name)
                        for name in names
                    ]
                )
    except psycopg.IntegrityError as exc:
        # The same exception SQLAlchemy raises for its own statements.
        raise sa.exc.IntegrityError(statement, None, exc) from exc


def _begin_sqlite(connection: sa.Connection) -> None:
    # Straight to the driver: a statement through SQLAlchemy costs more than a small query.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(connection.info.get("begin", "BEGIN"))


def _configure_sqlite(connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off; _begin_sqlite emits BEGIN instead.
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
