"""Benchmark: one ``/api`` batch creating 10,000 Tasks, against the raw SQL floor.

For each database backend (SQLite in a temp file, PostgreSQL in a throw-away database) this
starts a real ``shotbase serve`` process on a fresh database and measures:

* **/api batch** - wall time of one ``POST /api`` whose body is byte-for-byte what the official
  ``ftrack_api`` 3.1.0 client sends when committing ``--tasks`` created Tasks spread over
  ``--shots`` Shots. The body is captured by wrapping ``Session.call`` inside a real
  ``session.commit()`` (the capture does not send it), then replayed with httpx, so only the
  server's work (parse, validate, derive defaults, insert, commit, render the answer) and the
  loopback transfer are timed. Every repetition uses fresh Shots and fresh Task ids, so each
  one is a real insert; the median is reported.
* **raw SQL** - one transaction inserting the same number of rows into the ``context`` table
  with an executemany (and, on PostgreSQL, also with COPY; the faster counts), using the column
  values the server stored for one of its Tasks (new ids and names). This is the floor: what
  the database alone costs for these rows.
* **client commit** - the official client's whole ``session.commit()`` of as many created
  Tasks: client-side encoding, the request and merging the answer into the session.

Usage: ``.venv/bin/python bench/crud.py [--tasks 10000] [--shots 100] [--repeat 3]
[--backends sqlite,postgresql]``. The goal is an /api batch within 3x of the raw insert.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from harness import (
    Server,
    bench_engine,
    database_version,
    fresh_database,
    machine,
    start_server,
    stop_server,
)

GOAL_RATIO = 3.0
KITSU_TASKS_PER_SECOND = 70


# Server process ------------------------------------------------------------------------------


# Measurements --------------------------------------------------------------------------------


class Captured(Exception):
    """Raised from the wrapped ``Session.call`` to stop a commit after encoding its batch."""

    def __init__(self, body: str, operations: int) -> None:
        super().__init__("captured")
        self.body = body
        self.operations = operations


def capture_calls(session: Any) -> Callable[[], None]:
    """Make the next ``session.call`` raise :class:`Captured` with the encoded body."""

    def call(data: Any) -> Any:
        # Exactly what Session.call posts: encode(data, entity_attribute_strategy=...).
        body = session.encode(data, entity_attribute_strategy="modified_only")
        raise Captured(body, len(data))

    original = session.call
    session.call = call

    def restore() -> None:
        session.call = original

    return restore


def create_shots(session: Any, project_id: str, count: int, prefix: str) -> list[Any]:
    """Create ``count`` Shots under the project in one commit; return them (still cached)."""
    project = session.get("Project", project_id)
    shots = [
        session.create("Shot", {"name": f"{prefix}_{index:04d}", "parent": project})
        for index in range(count)
    ]
    session.commit()
    return shots


def create_tasks(session: Any, shots: list[Any], tasks: int) -> None:
    """Create ``tasks`` Tasks in the session, spread evenly over ``shots``."""
    per_shot = -(-tasks // len(shots))
    for index in range(tasks):
        shot = shots[index // per_shot]
        session.create("Task", {"name": f"task_{index % per_shot:04d}", "parent": shot})


def capture_task_batch(server: Server, project_id: str, args: argparse.Namespace, run: int) -> str:
    """Fresh Shots, then the exact body the official client would post for the Tasks."""
    session = server.session()
    try:
        shots = create_shots(session, project_id, args.shots, f"api{run}")
        create_tasks(session, shots, args.tasks)
        capture_calls(session)
        try:
            session.commit()
        except Captured as captured:
            if captured.operations != args.tasks:
                raise RuntimeError(f"captured {captured.operations} operations") from None
            return captured.body
        raise RuntimeError("the commit did not call the server")
    finally:
        session.recorded_operations.clear()  # Never sent, on purpose: no warning at close.
        session.close()


def time_api_batch(client: httpx.Client, server: Server, body: str, tasks: int) -> float:
    """POST one captured batch; return the seconds until the whole answer is read."""
    content = body.encode()
    started = time.perf_counter()
    response = client.post(f"{server.url}/api", content=content, headers=server.headers())
    elapsed = time.perf_counter() - started
    answer = response.json()
    if response.status_code != 200 or not isinstance(answer, list):
        raise RuntimeError(f"/api answered {response.status_code}: {str(answer)[:2000]}")
    if len(answer) != tasks or any(item.get("action") != "create" for item in answer):
        raise RuntimeError(f"/api answered {len(answer)} results, expected {tasks} creates")
    return elapsed


def time_raw_insert(engine: sa.Engine, template_id: str, parent_ids: list[str], rows: int) -> float:
    """Insert ``rows`` copies of a stored Task (new ids) in one transaction; return seconds."""
    table = sa.Table("context", sa.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(table).where(table.c.id == template_id))
        template = dict(stored.mappings().one())
    per_parent = -(-rows // len(parent_ids))
    payload = [
        {
            **template,
            "id": str(uuid.uuid4()),
            "name": f"raw_{index:05d}",
            "parent_id": parent_ids[index // per_parent],
        }
        for index in range(rows)
    ]
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(table.insert(), payload)
    best = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        # COPY is PostgreSQL's fastest plain bulk load; the floor is the faster of the two.
        for row in payload:
            row["id"] = str(uuid.uuid4())
        names = list(template)
        started = time.perf_counter()
        with engine.begin() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            columns = ", ".join(f'"{name}"' for name in names)
            with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY context ({columns}) FROM STDIN") as copy,
            ):
                for row in payload:
                    copy.write_row([row[name] for name in names])
        best = min(best, time.perf_counter() - started)
    return best


def time_client_commit(
    server: Server, project_id: str, args: argparse.Namespace
) -> tuple[float, float]:
    """Seconds of the official client's ``session.commit()`` of ``--tasks`` new Tasks.

    Also returns the seconds spent inside ``Session.call`` (encode, request, decode); the
    rest of the commit is building the batch and merging the answer into the session.
    """
    session = server.session()
    try:
        shots = create_shots(session, project_id, args.shots, "client")
        create_tasks(session, shots, args.tasks)
        original = session.call
        in_call = [0.0]

        def call(data: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(data)
            finally:
                in_call[0] += time.perf_counter() - started

        session.call = call
        started = time.perf_counter()
        session.commit()
        return time.perf_counter() - started, in_call[0]
    finally:
        session.close()


def count_tasks(engine: sa.Engine) -> int:
    """Tasks stored in the database (all runs together)."""
    with engine.connect() as connection:
        statement = sa.text("select count(*) from context where _type = 'Task'")
        return int(connection.execute(statement).scalar() or 0)


@dataclass
class Result:
    """The measurements of one backend."""

    backend: str
    database: str
    tasks: int
    api: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    client: float = float("nan")
    client_call: float = float("nan")
    stored: int = 0

    @property
    def api_median(self) -> float:
        return statistics.median(self.api)

    @property
    def raw_median(self) -> float:
        return statistics.median(self.raw)


def run_backend(backend: str, args: argparse.Namespace) -> Result:
    """Every measurement on one fresh database behind one fresh server."""
    with (
        tempfile.TemporaryDirectory(prefix="shotbase-bench-") as workdir,
        fresh_database(backend, Path(workdir)) as database_url,
    ):
        server = start_server(Path(workdir) / "data", database_url)
        engine = bench_engine(database_url)
        try:
            result = Result(backend, database_version(engine), args.tasks)
            session = server.session()
            try:
                schema = session.query("select id from ProjectSchema limit 1").all()[0]
                project = session.create(
                    "Project",
                    {"name": "bench", "full_name": "CRUD benchmark", "project_schema": schema},
                )
                session.commit()
                project_id = str(project["id"])
            finally:
                session.close()
            template_id = ""
            with httpx.Client(timeout=1200) as client:
                for run in range(args.repeat):
                    body = capture_task_batch(server, project_id, args, run)
                    seconds = time_api_batch(client, server, body, args.tasks)
                    result.api.append(seconds)
                    print(f"  {backend}: /api batch run {run + 1}: {seconds:.3f} s", flush=True)
                    template_id = template_id or json.loads(body)[0]["entity_key"][0]
            with engine.connect() as connection:
                shot_ids = list(
                    connection.execute(
                        sa.text("select id from context where _type = 'Shot' order by name")
                    ).scalars()
                )[: args.shots]
            for run in range(args.repeat):
                seconds = time_raw_insert(engine, template_id, shot_ids, args.tasks)
                result.raw.append(seconds)
                print(f"  {backend}: raw SQL insert run {run + 1}: {seconds:.3f} s", flush=True)
            if not args.skip_client:
                result.client, result.client_call = time_client_commit(server, project_id, args)
                print(
                    f"  {backend}: official client commit: {result.client:.3f} s "
                    f"({result.client_call:.3f} s in Session.call)",
                    flush=True,
                )
            result.stored = count_tasks(engine)
        finally:
            engine.dispose()
            stop_server(server)
    return result


# Report --------------------------------------------------------------------------------------


def table(results: list[Result], repeat: int) -> list[str]:
    """The results as a Markdown table."""
    lines = [
        "| backend | rows | /api batch s | tasks/s | raw SQL bulk s | api/raw | client commit s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        api, raw = result.api_median, result.raw_median
        lines.append(
            f"| {result.database} | {result.tasks:,} | {api:.3f} | {result.tasks / api:,.0f} "
            f"| {raw:.3f} | {api / raw:.1f}x | {result.client:.3f} |"
        )
    lines.append("")
    lines.append(
        f"Median of {repeat} runs for /api and raw SQL; one official client commit. "
        f"Goal: /api within {GOAL_RATIO:.0f}x of raw SQL (Kitsu: ~{KITSU_TASKS_PER_SECOND} "
        "tasks/s)."
    )
    for result in results:
        runs = ", ".join(f"{seconds:.3f}" for seconds in result.api)
        raws = ", ".join(f"{seconds:.3f}" for seconds in result.raw)
        lines.append(
            f"{result.backend}: /api runs [{runs}] s; raw runs [{raws}] s; client commit "
            f"{result.client:.3f} s of which {result.client_call:.3f} s in Session.call; "
            f"{result.stored:,} Tasks stored at the end."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=10_000, help="Tasks in the batch.")
    parser.add_argument("--shots", type=int, default=100, help="Shots the Tasks go under.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of /api and raw SQL.")
    parser.add_argument("--backends", default="sqlite,postgresql", help="Comma-separated.")
    parser.add_argument(
        "--skip-client", action="store_true", help="Skip the official client commit."
    )
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.shots < 1 or args.repeat < 1:
        parser.error("--tasks, --shots and --repeat must be positive")
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    header = machine()
    print("\n".join(header), flush=True)
    results = [run_backend(backend, args) for backend in backends]
    print()
    print("\n".join(header))
    print()
    print("\n".join(table(results, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
