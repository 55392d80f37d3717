"""What the benchmarks share: a real server process, throw-away databases, the machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The server process is started as the tests start it: make the repository's tests importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ftrack_api  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from tests import server_process  # noqa: E402

# The benchmarks import these two from here.
from tests.server_process import free_port as free_port  # noqa: E402
from tests.server_process import stop_server as stop_server  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "SHOTBASE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Server:
    """A running ``shotbase serve`` process and the admin's credentials."""

    url: str
    api_key: str
    process: subprocess.Popen[str]
    api_user: str = "admin"

    def headers(self) -> dict[str, str]:
        """Headers of an authenticated JSON request, as the official client sends them."""
        return {
            "content-type": "application/json",
            "accept": "application/json",
            "ftrack-user": self.api_user,
            "ftrack-api-key": self.api_key,
        }

    def session(self) -> Any:
        """A fresh official client session on this server."""
        return ftrack_api.Session(
            server_url=self.url,
            api_key=self.api_key,
            api_user=self.api_user,
            schema_cache_path=False,
            auto_connect_event_hub=False,
        )


def start_server(data_dir: Path, database_url: str) -> Server:
    """Start ``shotbase serve`` on a free port, on a new database, and wait until it answers.

    Raises:
        RuntimeError: If the server does not start or prints no admin API key.
    """
    running = server_process.start_server(data_dir, database_url)
    if not running.api_key:
        stop_server(running)
        raise RuntimeError("shotbase serve printed no api key (is its database new?)")
    return Server(running.url, running.api_key, running.process, running.api_user)


# Databases -----------------------------------------------------------------------------------


@contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[str]:
    """A new, empty database of ``backend``; yields its SQLAlchemy URL, removes it after."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'shotbase.sqlite'}"
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"shotbase_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def bench_engine(database_url: str) -> sa.Engine:
    """An engine for the raw inserts, set up as the server sets up its own."""
    engine = sa.create_engine(database_url)
    if engine.dialect.name == "sqlite":

        def configure(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        sa.event.listen(engine, "connect", configure)
    return engine


def database_version(engine: sa.Engine) -> str:
    """The database server's version, for the report."""
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect() as connection:
        found = connection.execute(sa.text("show server_version")).scalar()
    return f"PostgreSQL {found}"


def machine() -> list[str]:
    """Lines describing where the benchmark ran."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"date:    {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: nproc={cpus}, CPU {model}, {platform.system()} {platform.release()}",
        f"python:  {platform.python_implementation()} {platform.python_version()}, "
        f"SQLAlchemy {sa.__version__}, ftrack_api {ftrack_api.__version__}",
    ]
