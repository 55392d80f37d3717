"""Fixtures shared by every test: databases, a real server process, clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

# Test modules import these four from here.
from tests.server_process import ServerProcess as ServerProcess
from tests.server_process import free_port as free_port
from tests.server_process import start_server as start_server
from tests.server_process import stop_server as stop_server

POSTGRES_ADMIN_URL = os.environ.get(
    "SHOTBASE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    """An engine on the PostgreSQL server's maintenance database (fails if it is absent)."""
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("select 1"))
    yield engine
    engine.dispose()


def new_postgres_database(admin: sa.Engine) -> str:
    """Create an empty database and return its URL."""
    name = f"shotbase_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin.url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin: sa.Engine, url: str) -> None:
    """Drop a database made by :func:`new_postgres_database`."""
    name = sa.make_url(url).database
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'shotbase.sqlite'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    url = new_postgres_database(admin)
    yield url
    drop_postgres_database(admin, url)


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server process on a new database, shared by the tests of one module."""
    running = start_server(tmp_path_factory.mktemp("data"), database_url)
    assert running.api_key, "the first start must print the admin API key"
    yield running
    stop_server(running)
