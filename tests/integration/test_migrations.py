"""An existing database is upgraded in place when the schema gains tables, columns, indexes."""

from __future__ import annotations

import sqlalchemy as sa

from shotbase.schema import load_builtin_schema
from shotbase.store import build_tables, open_database, upgrade


def test_upgrade_adds_missing_tables_columns_and_indexes_and_keeps_rows(database_url: str) -> None:
    tables = build_tables(load_builtin_schema())
    database = open_database(database_url)
    try:
        upgrade(database.engine, tables)
        with database.engine.begin() as connection:
            priority = tables.families["Priority"]
            connection.execute(priority.insert().values(id="p1", name="keep me", _type="Priority"))
            connection.execute(sa.text("DROP INDEX ix_priority_name"))
            connection.execute(sa.text('ALTER TABLE priority DROP COLUMN "color"'))
            connection.execute(sa.text("DROP TABLE context_scope"))
        done = upgrade(database.engine, tables)
        assert "added column priority.color" in done
        assert "created table context_scope" in done
        assert "created index ix_priority_name" in done
        with database.engine.begin() as connection:
            rows = connection.execute(sa.text("select id, name from priority where id = 'p1'"))
            assert rows.all() == [("p1", "keep me")]
            assert sa.inspect(connection).has_table("context_scope")
        assert upgrade(database.engine, tables) == []
    finally:
        database.dispose()
