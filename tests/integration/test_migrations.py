"""An existing database is upgraded in place when the schema gains tables and columns."""

from __future__ import annotations

import sqlalchemy as sa

from shotbase.schema import load_builtin_schema
from shotbase.store import build_tables, open_database, upgrade


def test_upgrade_adds_missing_tables_and_columns_and_keeps_rows(database_url: str) -> None:
    tables = build_tables(load_builtin_schema())
    database = open_database(database_url)
    try:
        upgrade(database.engine, tables)
        with database.engine.begin() as connection:
            connection.execute(
                tables.families["Scope"].insert().values(id="s1", name="keep me", _type="Scope")
            )
            connection.execute(sa.text('ALTER TABLE scope DROP COLUMN "name"'))
            connection.execute(sa.text("DROP TABLE context_scope"))
        done = upgrade(database.engine, tables)
        assert "added column scope.name" in done
        assert "created table context_scope" in done
        with database.engine.begin() as connection:
            ids = connection.execute(sa.text("select id from scope")).scalars().all()
            assert ids == ["s1"]
            assert sa.inspect(connection).has_table("context_scope")
        assert upgrade(database.engine, tables) == []
    finally:
        database.dispose()
