"""Benchmark: the official ftrack client against shotbase.Session on the same query.

A real ``shotbase serve`` process (SQLite in a temp directory) gets one project per size,
holding ``size`` Tasks (10 per Shot, 100 Shots per Sequence). For each size and client, a
fresh subprocess measures:

* **end to end** - ``session.query('select name, parent.name from Task where project_id is
  ...').all()`` paged by 500 (the official default), then reading every task's ``name`` and
  ``parent['name']``. Session start-up is not timed.
* **decode+merge** - the same pages' response text, captured once, decoded and merged into an
  empty session (official: ``Session.decode`` + ``_merge_recursive``; ours: ``Session.decode``).

Peak memory is the worker's peak RSS during the case minus its RSS after start-up. The floor
is ``json.loads`` / ``orjson.loads`` of the same text, in this process.

Usage: ``.venv/bin/python bench/client.py [--sizes 1000,10000] [--append docs/benchmarks.md]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
PAGE_SIZE = 500
EXPRESSION = 'select name, parent.name from Task where project_id is "{project}"'


# Server and data ---------------------------------------------------------------------------


@dataclass
class Server:
    """A running ``shotbase serve``."""

    url: str
    api_user: str
    api_key: str
    process: subprocess.Popen[str]


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data: Path) -> Server:
    """Start a server on a new SQLite database and wait until it answers."""
    port = free_port()
    command = [sys.executable, "-m", "shotbase.cli", "serve", "--data", str(data)]
    command += ["--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    api_key = ""
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("shotbase serve exited")
        found = re.search(r"api key: (\S+)", line)
        api_key = found.group(1) if found else api_key
        if "serving on" in line:
            break
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Server(url, "admin", api_key, process)
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("shotbase serve did not answer")


def create_project(server: Server, size: int) -> str:
    """A project with ``size`` Tasks under Shots under Sequences; returns its id."""
    from shotbase.client import Session

    with Session(server.url, server.api_key, server.api_user, schema_cache_path=False) as session:
        schema = session.query("ProjectSchema").first()
        name = f"bench_{size}_{int(time.time())}"
        project = session.create(
            "Project", {"name": name, "full_name": name, "project_schema": schema}
        )
        session.commit()
        shots = max(1, size // 10)
        sequence = None
        for shot_index in range(shots):
            if shot_index % 100 == 0:
                sequence = session.create(
                    "Sequence", {"name": f"sq{shot_index}", "parent": project}
                )
            shot = session.create("Shot", {"name": f"sh{shot_index:05d}", "parent": sequence})
            for task_index in range(min(10, size - shot_index * 10)):
                session.create("Task", {"name": f"task{task_index}", "parent": shot})
            if shot_index % 200 == 199:
                session.commit()
                session.reset()
        session.commit()
        return str(project["id"])


def capture_pages(server: Server, expression: str) -> list[bytes]:
    """The raw response text of each page the clients request, in order."""
    headers = {"ftrack-user": server.api_user, "ftrack-api-key": server.api_key}
    pages: list[bytes] = []
    offset: int | None = 0
    with httpx.Client(timeout=600) as client:
        while offset is not None:
            operation = {
                "action": "query",
                "expression": f"{expression} offset {offset} limit {PAGE_SIZE}",
            }
            response = client.post(f"{server.url}/api", json=[operation], headers=headers)
            pages.append(response.content)
            offset = orjson.loads(response.content)[0]["metadata"]["next"]["offset"]
    return pages


# Workers (run in a subprocess each) -------------------------------------------------------


def max_rss_mib() -> float:
    """This process's peak resident set size."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """This process's resident set size now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_client(kind: str, url: str, user: str, key: str) -> Any:
    """A session of the official client or of ours."""
    if kind == "official":
        import ftrack_api

        return ftrack_api.Session(
            server_url=url,
            api_key=key,
            api_user=user,
            auto_connect_event_hub=False,
            schema_cache_path=False,
        )
    from shotbase.client import Session

    return Session(url, key, user, schema_cache_path=False)


def worker(kind: str, mode: str, url: str, user: str, key: str, argument: str) -> dict[str, Any]:
    """Time one case; ``argument`` is the expression (end to end) or the pages file (decode)."""
    session = open_client(kind, url, user, key)
    pages = orjson.loads(Path(argument).read_bytes()) if mode == "decode" else []
    baseline = current_rss_mib()
    started = time.perf_counter()
    if mode == "end_to_end":
        tasks = session.query(argument, page_size=PAGE_SIZE).all()
        for task in tasks:
            task["name"]
            task["parent"]["name"]
        count = len(tasks)
    else:
        count = 0
        for page in pages:
            if kind == "official":
                decoded = session.decode(page)
                merged: dict[Any, Any] = {}
                count += len([session._merge_recursive(e, merged) for e in decoded[0]["data"]])
            else:
                count += len(session.decode(page)[0]["data"])
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "count": count, "memory_mib": max_rss_mib() - baseline}


def run_worker(kind: str, mode: str, server: Server, argument: str) -> dict[str, Any]:
    """Run :func:`worker` in a fresh interpreter and return its measurement."""
    command = [sys.executable, __file__, "--worker", kind, mode, server.url, server.api_user]
    command += [server.api_key, argument]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def parse_floor(pages: list[bytes]) -> tuple[float, float]:
    """Seconds to parse the pages with json and with orjson."""
    texts = [page.decode() for page in pages]
    started = time.perf_counter()
    for text in texts:
        json.loads(text)
    middle = time.perf_counter()
    for page in pages:
        orjson.loads(page)
    return middle - started, time.perf_counter() - middle


# Report ------------------------------------------------------------------------------------


def measure(server: Server, size: int, workdir: Path) -> dict[str, Any]:
    """Every measurement for one size."""
    project = create_project(server, size)
    expression = EXPRESSION.format(project=project)
    pages = capture_pages(server, expression)
    pages_file = workdir / f"pages_{size}.json"
    pages_file.write_bytes(orjson.dumps([page.decode() for page in pages]))
    row: dict[str, Any] = {"size": size, "bytes": sum(len(page) for page in pages)}
    for kind in ("official", "shotbase"):
        row[kind] = {
            "end_to_end": run_worker(kind, "end_to_end", server, expression),
            "decode": run_worker(kind, "decode", server, str(pages_file)),
        }
    row["json"], row["orjson"] = parse_floor(pages)
    return row


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The results as a markdown table."""
    lines = [
        "| tasks | client | end to end s | tasks/s | peak MiB | decode+merge s | decode MiB |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for kind in ("official", "shotbase"):
            e2e, decode = row[kind]["end_to_end"], row[kind]["decode"]
            lines.append(
                f"| {row['size']:,} | {kind} | {e2e['seconds']:.3f} | "
                f"{row['size'] / e2e['seconds']:,.0f} | {e2e['memory_mib']:.0f} | "
                f"{decode['seconds']:.3f} | {decode['memory_mib']:.0f} |"
            )
    lines += [
        "",
        "| tasks | response MiB | json.loads s | orjson.loads s | end-to-end speed-up | "
        "decode+merge speed-up | memory ratio | ours / orjson floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        official, ours = row["official"], row["shotbase"]
        speed = official["end_to_end"]["seconds"] / ours["end_to_end"]["seconds"]
        decode = official["decode"]["seconds"] / ours["decode"]["seconds"]
        memory = ours["end_to_end"]["memory_mib"] / max(official["end_to_end"]["memory_mib"], 1)
        floor = ours["decode"]["seconds"] / row["orjson"]
        lines.append(
            f"| {row['size']:,} | {row['bytes'] / 2**20:.1f} | {row['json']:.3f} | "
            f"{row['orjson']:.3f} | {speed:.1f}x | {decode:.1f}x | {memory:.2f} | {floor:.1f}x |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally append) the tables."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments and arguments[0] == "--worker":
        sys.stdout.write(json.dumps(worker(*arguments[1:7])) + "\n")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated Task counts")
    parser.add_argument("--append", type=Path, help="append the results to this markdown file")
    args = parser.parse_args(arguments)
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as directory:
        server = start_server(Path(directory) / "data")
        try:
            rows = [measure(server, size, Path(directory)) for size in sizes]
        finally:
            server.process.terminate()
            server.process.wait(15)
    lines = table(rows)
    sys.stdout.write("\n".join(lines) + "\n")
    if args.append:
        header = [
            "",
            "## Client: query + touch Tasks with a nested projection (bench/client.py)",
            "",
            f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- Machine: nproc={os.cpu_count()}, {platform.processor() or platform.machine()}, "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
            f"- Command: `.venv/bin/python bench/client.py --sizes {args.sizes}`",
            "",
        ]
        with args.append.open("a") as stream:
            stream.write("\n".join(header + lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
