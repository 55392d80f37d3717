"""Fixtures shared by every test: databases, a real server process, clients."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get(
    "SHOTBASE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running ``shotbase serve`` process."""

    url: str
    api_user: str
    api_key: str
    data_dir: Path
    database_url: str
    process: subprocess.Popen[str]

    def call(self, operations: list[dict[str, Any]], **headers: str) -> httpx.Response:
        """POST one batch to /api as the admin user."""
        sent = {"ftrack-user": self.api_user, "ftrack-api-key": self.api_key, **headers}
        return httpx.post(f"{self.url}/api", json=operations, headers=sent, timeout=60)


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


def start_server(
    data_dir: Path, database_url: str, *extra: str, port: int | None = None
) -> ServerProcess:
    """Start ``shotbase serve`` on ``port`` (default: a free one) and wait until it answers."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "shotbase.cli",
        "serve",
        "--data",
        str(data_dir),
        "--database",
        database_url,
        "--port",
        str(port),
        "--log-level",
        "warning",
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    api_key = ""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"api key: (\S+)", line)
        if found:
            api_key = found.group(1)
        if "serving on" in line:
            break
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                drain(process)
                return ServerProcess(url, "admin", api_key, data_dir, database_url, process)
        except httpx.TransportError:
            time.sleep(0.1)
        if process.poll() is not None:
            break
    process.kill()
    output = process.stdout.read() if process.stdout else ""
    raise RuntimeError(f"shotbase serve did not start:\n{output}")


def drain(process: subprocess.Popen[str]) -> None:
    """Keep reading a server's output so that a full pipe never blocks it."""

    def read() -> None:
        assert process.stdout is not None
        with process.stdout:
            for _ in process.stdout:
                pass

    threading.Thread(target=read, daemon=True).start()


def stop_server(server: ServerProcess) -> None:
    """Stop a server started by :func:`start_server`."""
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server process on a new database, shared by the tests of one module."""
    running = start_server(tmp_path_factory.mktemp("data"), database_url)
    assert running.api_key, "the first start must print the admin API key"
    yield running
    stop_server(running)
