"""Bring a database's tables up to date with the schema, in place.

New tables are created; columns the schema gained are added to existing tables. Nothing is
dropped or rewritten, so upgrading never loses data. The applied schema hash is recorded.

On SQLite the query planner's statistics are refreshed too when the data has outgrown them
(see :mod:`shotbase.store.planner_statistics`).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from shotbase.store.planner_statistics import refresh_if_stale
from shotbase.store.tables import Tables

__all__ = ["upgrade"]

logger = logging.getLogger(__name__)


def upgrade(engine: sa.Engine, tables: Tables) -> list[str]:
    """Create missing tables and add missing columns; return what was done."""
    done: list[str] = []
    with engine.begin() as connection:
        inspector = sa.inspect(connection)
        existing = set(inspector.get_table_names())
        for table in tables.metadata.sorted_tables:
            if table.name not in existing:
                table.create(connection)
                done.append(f"created table {table.name}")
                continue
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    _add_column(connection, table, column)
                    done.append(f"added column {table.name}.{column.name}")
            indexed = {index["name"] for index in inspector.get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in indexed:
                    index.create(connection)
                    done.append(f"created index {index.name}")
    if "created table context_ancestor" in done:
        from shotbase.store.tree import ContextTree

        with engine.begin() as connection:
            links = ContextTree(tables, connection).rebuild()
        if links:
            done.append(f"rebuilt the context tree index ({links} links)")
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            refresh_if_stale(connection, tables)
    for step in done:
        logger.debug("database upgrade: %s", step)
    if done:
        logger.info("database upgraded: %d changes", len(done))
    return done


def _add_column(connection: sa.Connection, table: sa.Table, column: sa.Column[object]) -> None:
    preparer = connection.dialect.identifier_preparer
    kind = column.type.compile(dialect=connection.dialect)
    statement = (
        f"ALTER TABLE {preparer.format_table(table)} "
        f"ADD COLUMN {preparer.format_column(column)} {kind}"
    )
    # Identifiers come from the schema definition, quoted by the dialect; no value is formatted.
    connection.exec_driver_sql(statement)
