"""Benchmark: canonical queries on a studio-sized data set, against hand-written SQL.

For each backend (SQLite file, PostgreSQL database) this starts a real ``shotbase serve``,
builds one project of ``--sequences`` x ``--shots`` x ``--tasks`` (default 100 x 100 x 10 =
100,000 Tasks) through ``/api`` batches, with statuses, an assignment per task, timelogs on
every third task and a custom attribute on every shot, then times each canonical query through
``POST /api`` (server, HTTP and JSON included) and the hand-written SQL that fetches the same
data from the same database. It prints p50/p95 per query and the ratio of the p50s (goal: at
most 3; the overview query under 100 ms on PostgreSQL).

Usage: ``.venv/bin/python bench/query.py [--sequences 100] [--shots 100] [--tasks 10]
[--repeat 15] [--backends sqlite,postgresql] [--keep DIR] [--only WORD,...] [--no-scan]``.

``--keep DIR`` keeps the data set between runs: the SQLite file and the server's data under
``DIR/<size>/<backend>/`` and a PostgreSQL database named after the size (``100x100x10``), with
what the queries need (ids, names, the admin's API key) in ``studio.json`` beside them. A later
run with the same ``--keep`` and size reuses them instead of building 100,000 Tasks again; the
server still upgrades the database when it starts, so new indexes are created. Samples of our
side and of the hand-written SQL are taken in turns.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import sqlalchemy as sa
from harness import (
    POSTGRES_ADMIN_URL,
    Server,
    bench_engine,
    database_version,
    free_port,
    fresh_database,
    machine,
    start_server,
    stop_server,
)

BATCH = 5000
SHOT_TYPE = "bad911de-3bd6-47b9-8b46-3476e237cb36"


@dataclass
class Studio:
    """What the data set holds, for building queries."""

    project_id: str
    full_name: str
    sequence_names: list[str]
    tasks: int


class Api:
    """Posts batches to a server over one kept-alive connection.

    ``http.client`` rather than httpx: httpx spends about 0.6 ms of client CPU on each
    request, which would be counted against the server on queries that take 1-2 ms.
    """

    def __init__(self, server: Server) -> None:
        parts = urlsplit(server.url)
        self.connection = http.client.HTTPConnection(parts.netloc, timeout=600)
        self.headers = {**server.headers(), "content-type": "application/json"}

    def call(self, operations: list[dict[str, Any]]) -> list[Any]:
        self.connection.request("POST", "/api", orjson.dumps(operations), self.headers)
        body = orjson.loads(self.connection.getresponse().read())
        if not isinstance(body, list):
            raise RuntimeError(f"/api failed: {body}")
        return body

    def health(self) -> None:
        """A bare round trip: ``GET /health`` on the same connection."""
        self.connection.request("GET", "/health")
        self.connection.getresponse().read()

    def query(self, expression: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call([{"action": "query", "expression": expression}])[0]
        return result


def create(kind: str, /, **data: Any) -> dict[str, Any]:
    """A create operation (``kind`` is positional: some types have an ``entity_type``)."""
    return {"action": "create", "entity_type": kind, "entity_data": data}


def ref(entity_type: str, entity_id: str) -> dict[str, str]:
    return {"__entity_type__": entity_type, "id": entity_id}


def build_studio(api: Api, args: argparse.Namespace) -> Studio:
    """Create the data set through /api in batches of a few thousand operations."""
    ids = {r["name"]: r["id"] for r in api.query("select name from Status")["data"]}
    statuses = [ids[n] for n in ("Not started", "In progress", "Pending review", "Approved")]
    schema_id = api.query("select id from ProjectSchema limit 1")["data"][0]["id"]
    user_id = api.query("select id from User limit 1")["data"][0]["id"]
    number = api.query('select id from CustomAttributeType where name is "number"')["data"][0]
    project_id, config_id = str(uuid.uuid4()), str(uuid.uuid4())
    full_name = f"Bench {project_id[:8]}"
    api.call(
        [
            create(
                "Project",
                id=project_id,
                name=f"bench_{project_id[:8]}",
                full_name=full_name,
                project_schema_id=schema_id,
            ),
            create(
                "CustomAttributeConfiguration",
                id=config_id,
                key="fstart",
                label="Frame start",
                entity_type="task",
                object_type_id=SHOT_TYPE,
                type_id=number["id"],
                default=1001,
                config="{}",
                core=False,
            ),
        ]
    )
    operations: list[dict[str, Any]] = []
    sequence_names, task_ids = [], []

    def flush(force: bool = False) -> None:
        if operations and (force or len(operations) >= BATCH):
            api.call(operations)
            operations.clear()

    for s in range(args.sequences):
        sequence_id, sequence_name = str(uuid.uuid4()), f"sq{s:03d}"
        sequence_names.append(sequence_name)
        operations.append(
            create(
                "Sequence", id=sequence_id, name=sequence_name, parent=ref("Project", project_id)
            )
        )
        for h in range(args.shots):
            shot_id = str(uuid.uuid4())
            operations.append(
                create(
                    "Shot",
                    id=shot_id,
                    name=f"{sequence_name}_sh{h:03d}",
                    parent=ref("Sequence", sequence_id),
                )
            )
            operations.append(
                {
                    "action": "update",
                    "entity_type": "ContextCustomAttributeValue",
                    "entity_key": [config_id, shot_id],
                    "entity_data": {"value": 1001 + (h % 100)},
                }
            )
            for t in range(args.tasks):
                task_id = str(uuid.uuid4())
                task_ids.append(task_id)
                operations.append(
                    create(
                        "Task",
                        id=task_id,
                        name=f"task{t:02d}",
                        parent=ref("Shot", shot_id),
                        status=ref("Status", statuses[(s + h + t) % 4]),
                        bid=3600.0 * (1 + t % 3),
                    )
                )
                operations.append(
                    create(
                        "Appointment", context_id=task_id, resource_id=user_id, type="assignment"
                    )
                )
                if len(task_ids) % 3 == 0:
                    operations.append(
                        create(
                            "Timelog",
                            context_id=task_id,
                            user_id=user_id,
                            start="2024-03-01T09:00:00",
                            duration=1800.0,
                            comment="",
                        )
                    )
            flush()
    flush(force=True)
    return Studio(project_id, full_name, sequence_names, len(task_ids))


@dataclass
class Case:
    """One canonical query: the ftrack expression and the hand-written SQL for the same data."""

    name: str
    expression: str
    sql: str
    parameters: dict[str, Any]
    postgresql: str | None = None  # another SQL where PostgreSQL needs a different shape

    def sql_for(self, dialect: str) -> str:
        """The hand-written SQL for one database."""
        return self.postgresql if dialect == "postgresql" and self.postgresql else self.sql


def overview(title: str, full_name: str) -> Case:
    """The overview query of the issue, on the project named ``full_name``."""
    return Case(
        title,
        "select name, parent.name, status.name from Task "
        f'where project.full_name is "{full_name}" and status.state.short is "DONE" '
        "and not timelogs any () offset 0 limit 500",
        """select t.id, t.name, p.id, p.name, s.id, s.name
           from context t join context pr on pr.id = t.project_id
           join status s on s.id = t.status_id join state st on st.id = s.state_id
           left join context p on p.id = t.parent_id
           where t._type = 'Task' and pr.full_name = :full_name and st.short = 'DONE'
           and not exists (select 1 from timelog l where l.context_id = t.id)
           order by t.id limit 501""",
        {"full_name": full_name},
        # PostgreSQL estimates a join with the project as if any of the 110,000 contexts
        # could be it (one task in 100,000 would match), then reads every DONE task before
        # sorting; the project found first in a fenced sub-query keeps the estimate right,
        # and the plan walks tasks in id order until it has 501.
        postgresql="""select t.id, t.name, p.id, p.name, s.id, s.name
           from context t join status s on s.id = t.status_id
           left join context p on p.id = t.parent_id
           where t._type = 'Task'
           and t.project_id in (select id from context
                                where _type = 'Project' and full_name = :full_name offset 0)
           and s.state_id in (select id from state where short = 'DONE')
           and not exists (select 1 from timelog l where l.context_id = t.id)
           order by t.id limit 501""",
    )


def cases(studio: Studio) -> list[Case]:
    middle = studio.sequence_names[len(studio.sequence_names) // 2]
    full_name, project = studio.full_name, studio.project_id
    return [
        overview("overview (500 done tasks, no timelogs)", full_name),
        # A project name that matches none: as costly as a project without tasks.
        overview("overview of a project with no tasks", "No such project"),
        Case(
            "link of 1,000 tasks",
            f'select link from Task where ancestors any (name is "{middle}") offset 0 limit 1000',
            """select t.id, a.id, a.name, a._type, c.depth
               from (select t.id from context t
                     join context_ancestor x on x.descendant_id = t.id
                     join context s on s.id = x.ancestor_id
                     where t._type = 'Task' and s.name = :sequence order by t.id limit 1001) t
               join context_ancestor c on c.descendant_id = t.id
               join context a on a.id = c.ancestor_id order by t.id, c.depth desc""",
            {"sequence": middle},
        ),
        Case(
            "custom attribute filter (shots, fstart > 1090)",
            'select name from Shot where custom_attributes any (key is "fstart" and value > 1090)'
            " offset 0 limit 500",
            """select c.id, c.name from context c where c._type = 'Shot' and exists (
                 select 1 from custom_attribute_value v where v.entity_id = c.id
                 and v.key = 'fstart' and v.value_number > 1090) order by c.id limit 501""",
            {},
        ),
        Case(
            "ancestors any (tasks of one sequence)",
            f'select name from Task where ancestors any (name is "{middle}") offset 0 limit 1000',
            """select t.id, t.name from context t
               join context_ancestor x on x.descendant_id = t.id
               join context s on s.id = x.ancestor_id
               where t._type = 'Task' and s.name = :sequence order by t.id limit 1001""",
            {"sequence": middle},
        ),
        Case(
            "deep order by (sequence, shot, task)",
            f'select name from Task where project_id is "{project}" '
            "order by parent.parent.name desc, parent.name, name offset 0 limit 500",
            """select t.id, t.name from context t join context h on h.id = t.parent_id
               join context q on q.id = h.parent_id
               where t._type = 'Task' and t.project_id = :project
               order by q.name desc, h.name, t.name, t.id limit 501""",
            {"project": project},
        ),
        Case(
            "page deep in a scan (offset 50,000)",
            f'select name, status_id from Task where project_id is "{project}" '
            "offset 50000 limit 500",
            """select t.id, t.name, t.status_id from context t
               where t._type = 'Task' and t.project_id = :project order by t.id
               limit 501 offset 50000""",
            {"project": project},
        ),
        Case(
            "assignments of one shot's tasks",
            f'select name, assignments.resource_id from Task where parent.name is "{middle}_sh050"',
            """select t.id, t.name, a.id, a.resource_id from context t
               join context h on h.id = t.parent_id
               left join appointment a on a.context_id = t.id and a.type = 'assignment'
               where t._type = 'Task' and h.name = :shot order by t.id""",
            {"shot": f"{middle}_sh050"},
        ),
    ]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def timed(
    ours: Callable[[], Any], raw: Callable[[], Any], repeat: int
) -> tuple[list[float], list[float]]:
    """Samples of both sides, taken in turns so that a busy moment of the machine falls on
    both alike; one warm-up run each first."""
    ours()
    raw()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for run, kept in ((ours, samples[0]), (raw, samples[1])):
            started = time.perf_counter()
            run()
            kept.append(time.perf_counter() - started)
    return samples


def run_sql(connection: sa.Connection, case: Case) -> list[Any]:
    """The rows of a case's hand-written SQL."""
    statement = sa.text(case.sql_for(connection.dialect.name))
    return list(connection.execute(statement, case.parameters).fetchall())


def full_scan_seconds(api: Api, studio: Studio) -> tuple[float, int]:
    """Page through every task as the official client does (500 per page)."""
    started, offset, rows = time.perf_counter(), 0, 0
    while offset is not None:
        result = api.query(
            f'select name, status_id from Task where project_id is "{studio.project_id}" '
            f"offset {offset} limit 500"
        )
        rows += len(result["data"])
        offset = result["metadata"]["next"]["offset"]
    return time.perf_counter() - started, rows


@dataclass
class Prepared:
    """A server on a database holding the data set."""

    server: Server
    engine: sa.Engine
    studio: Studio
    built: float | None  # seconds to build it, None when reused


@contextlib.contextmanager
def prepared(backend: str, args: argparse.Namespace) -> Iterator[Prepared]:
    """A server and the data set: built in a throw-away database, or kept under ``--keep``."""
    if args.keep is None:
        with tempfile.TemporaryDirectory(prefix="shotbase-bench-") as workdir:
            with fresh_database(backend, Path(workdir)) as url:
                with serving(Path(workdir), url, None) as server:
                    started = time.perf_counter()
                    studio = build_studio(Api(server), args)
                    yield Prepared(server, bench_engine(url), studio, time.perf_counter() - started)
        return
    keep = Path(args.keep).resolve() / f"{args.sequences}x{args.shots}x{args.tasks}"
    data_dir = keep / backend
    data_dir.mkdir(parents=True, exist_ok=True)
    url = kept_database(backend, data_dir, f"shotbase_bench_keep_{keep.name}")
    record = data_dir / "studio.json"
    if record.exists():
        saved = json.loads(record.read_text())
        with serving(data_dir, url, saved["api_key"]) as server:
            yield Prepared(server, bench_engine(url), Studio(**saved["studio"]), None)
        return
    with serving(data_dir, url, None) as server:
        started = time.perf_counter()
        studio = build_studio(Api(server), args)
        built = time.perf_counter() - started
        record.write_text(json.dumps({"api_key": server.api_key, "studio": asdict(studio)}))
        yield Prepared(server, bench_engine(url), studio, built)


def kept_database(backend: str, data_dir: Path, name: str) -> str:
    """The URL of a database kept between runs, created when missing."""
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'shotbase.sqlite'}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("select 1 from pg_database where datname = :name"), {"name": name}
            ).first()
            if not exists:
                (data_dir / "studio.json").unlink(missing_ok=True)
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        return admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        admin.dispose()


@contextlib.contextmanager
def serving(data_dir: Path, url: str, api_key: str | None) -> Iterator[Server]:
    """A server on ``url``; ``api_key`` when the database already has its admin."""
    server = (
        start_server(data_dir, url) if api_key is None else restart_server(data_dir, url, api_key)
    )
    try:
        yield server
    finally:
        stop_server(server)


def restart_server(data_dir: Path, url: str, api_key: str) -> Server:
    """Start ``shotbase serve`` on a database that has its admin (no key is printed then)."""
    port = free_port()
    command = [sys.executable, "-m", "shotbase.cli", "serve", "--data", str(data_dir)]
    command += ["--database", url, "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    server = Server(f"http://127.0.0.1:{port}", api_key, process)
    deadline = time.monotonic() + 600  # the first start after a schema change builds indexes
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"shotbase serve did not start on {url}")


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    with prepared(backend, args) as ready:
        engine, studio, api = ready.engine, ready.studio, Api(ready.server)
        try:
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(sa.text("analyze"))
            how = "reused" if ready.built is None else f"built through /api in {ready.built:.1f} s"
            lines = [
                f"### {database_version(engine)}: {studio.tasks:,} Tasks ({how})",
                "",
                "| query | ours p50 ms | ours p95 ms | SQL p50 ms | SQL p95 ms | ratio |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for case in cases(studio):
                if args.only and not any(word in case.name for word in args.only.split(",")):
                    continue
                # The hand-written SQL runs on one open connection.
                with engine.connect() as connection:
                    ours, raw = timed(
                        functools.partial(api.query, case.expression),
                        functools.partial(run_sql, connection, case),
                        args.repeat,
                    )
                (op50, op95), (rp50, rp95) = percentiles(ours), percentiles(raw)
                lines.append(
                    f"| {case.name} | {op50 * 1000:.1f} | {op95 * 1000:.1f} | "
                    f"{rp50 * 1000:.1f} | {rp95 * 1000:.1f} | {op50 / rp50:.2f}x |"
                )
                print(lines[-1], file=sys.stderr, flush=True)
            floor, _ = timed(api.health, api.health, args.repeat * 10)
            lines += [
                "",
                f"A bare HTTP round trip (`GET /health`, same connection): p50"
                f" {statistics.median(floor) * 1000:.2f} ms.",
            ]
            if not args.no_scan:
                seconds, rows = full_scan_seconds(api, studio)
                lines += ["", f"Paged scan of all {rows:,} tasks (500 a page): {seconds:.2f} s"]
            return [*lines, ""]
        finally:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=100)
    parser.add_argument("--shots", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--keep", help="directory to keep the data set in between runs")
    parser.add_argument("--only", help="run only the queries whose name has one of these words")
    parser.add_argument("--no-scan", action="store_true", help="skip the paged scan of all tasks")
    args = parser.parse_args(argv)
    report = [*machine(), ""]
    for backend in args.backends.split(","):
        report += run_backend(backend, args)
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
