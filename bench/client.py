"""Benchmark: the official ftrack client against shotbase.Session on the same query.

A real ``shotbase serve`` process (SQLite in a temp directory) gets one project per size,
holding ``size`` Tasks (10 per Shot, 100 Shots per Sequence). For each size and client, a
fresh subprocess measures:

* **end to end** - ``session.query('select name, parent.name from Task where project_id is
  ...').all()`` paged by 500 (the official default), then reading every task's ``name`` and
  ``parent['name']``. Session start-up is not timed.
* **decode+merge** - the same pages' response text, captured once, decoded and merged into an
  empty session (official: ``Session.decode`` + ``_merge_recursive``; ours: ``Session.decode``).

Peak memory is the worker's peak RSS during the case minus its RSS when the case starts (on
Linux the peak is reset first, through ``/proc/self/clear_refs``, so that start-up peaks do not
count). The floor is ``json.loads`` / ``orjson.loads`` of the same text, in this process.
Times are wall clock; the client's CPU time is given too (end to end it leaves out the
server's time; for decode+merge and the floor it is less disturbed by other processes on a
shared machine). With ``--repeat N`` each case runs N times (a
fresh worker each time) and the tables show medians.

Usage: ``.venv/bin/python bench/client.py [--sizes 1000,10000] [--repeat 3]
[--append docs/benchmarks.md]``.
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
import statistics
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


def reset_peak_rss() -> None:
    """Make the current RSS the peak (Linux 4.0+; elsewhere the life-time peak is used)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mib() -> float:
    """This process's peak resident set size since :func:`reset_peak_rss`."""
    try:
        found = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    except OSError:
        found = None
    if found is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(found.group(1)) / 1024


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
    reset_peak_rss()
    baseline = current_rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
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
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    memory = peak_rss_mib() - baseline
    return {"seconds": elapsed, "cpu_seconds": cpu, "count": count, "memory_mib": memory}


def run_worker(kind: str, mode: str, server: Server, argument: str, repeat: int) -> dict[str, Any]:
    """Run :func:`worker` ``repeat`` times, each in a fresh interpreter; medians and runs."""
    command = [sys.executable, __file__, "--worker", kind, mode, server.url, server.api_user]
    command += [server.api_key, argument]
    runs = []
    for _ in range(repeat):
        output = subprocess.run(
            command, check=True, capture_output=True, text=True, cwd=ROOT
        ).stdout
        runs.append(dict(json.loads(output.strip().splitlines()[-1])))
    result = {
        name: statistics.median(run[name] for run in runs)
        for name in ("seconds", "cpu_seconds", "memory_mib")
    }
    return {**result, "count": runs[0]["count"], "runs": [run["seconds"] for run in runs]}


def parse_floor(pages: list[bytes], repeat: int) -> dict[str, float]:
    """Median wall seconds to parse the pages with json and orjson, and orjson CPU seconds."""
    texts = [page.decode() for page in pages]
    runs: dict[str, list[float]] = {"json": [], "orjson": [], "orjson_cpu": []}
    for _ in range(max(repeat, 5)):
        started = time.perf_counter()
        for text in texts:
            json.loads(text)
        runs["json"].append(time.perf_counter() - started)
        started, cpu_started = time.perf_counter(), time.process_time()
        for page in pages:
            orjson.loads(page)
        runs["orjson"].append(time.perf_counter() - started)
        runs["orjson_cpu"].append(time.process_time() - cpu_started)
    return {name: statistics.median(values) for name, values in runs.items()}


# Report ------------------------------------------------------------------------------------


def measure(server: Server, size: int, workdir: Path, repeat: int) -> dict[str, Any]:
    """Every measurement for one size."""
    project = create_project(server, size)
    expression = EXPRESSION.format(project=project)
    pages = capture_pages(server, expression)
    pages_file = workdir / f"pages_{size}.json"
    pages_file.write_bytes(orjson.dumps([page.decode() for page in pages]))
    row: dict[str, Any] = {"size": size, "bytes": sum(len(page) for page in pages)}
    for kind in ("official", "shotbase"):
        row[kind] = {
            "end_to_end": run_worker(kind, "end_to_end", server, expression, repeat),
            "decode": run_worker(kind, "decode", server, str(pages_file), repeat),
        }
    row["floor"] = parse_floor(pages, repeat)
    return row


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The results as markdown tables (medians when cases were repeated)."""
    lines = [
        "| tasks | client | end to end s | client CPU s | tasks/s | peak MiB | decode+merge s | "
        "decode+merge CPU s | decode MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        for kind in ("official", "shotbase"):
            e2e, decode = row[kind]["end_to_end"], row[kind]["decode"]
            lines.append(
                f"| {row['size']:,} | {kind} | {e2e['seconds']:.3f} | {e2e['cpu_seconds']:.3f} | "
                f"{row['size'] / e2e['seconds']:,.0f} | {e2e['memory_mib']:.1f} | "
                f"{decode['seconds']:.3f} | {decode['cpu_seconds']:.3f} | "
                f"{decode['memory_mib']:.1f} |"
            )
    lines += [
        "",
        "| tasks | response MiB | json.loads s | orjson.loads s | orjson CPU s | "
        "end-to-end speed-up | decode+merge speed-up | memory ratio | ours / orjson floor | "
        "ours / orjson floor, CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        official, ours, floor = row["official"], row["shotbase"], row["floor"]
        speed = official["end_to_end"]["seconds"] / ours["end_to_end"]["seconds"]
        decode = official["decode"]["seconds"] / ours["decode"]["seconds"]
        memory = ours["end_to_end"]["memory_mib"] / max(official["end_to_end"]["memory_mib"], 1)
        ratio = ours["decode"]["seconds"] / floor["orjson"]
        cpu_ratio = ours["decode"]["cpu_seconds"] / floor["orjson_cpu"]
        lines.append(
            f"| {row['size']:,} | {row['bytes'] / 2**20:.1f} | {floor['json']:.3f} | "
            f"{floor['orjson']:.3f} | {floor['orjson_cpu']:.3f} | {speed:.1f}x | {decode:.1f}x | "
            f"{memory:.2f} | {ratio:.1f}x | {cpu_ratio:.1f}x |"
        )
    lines += ["", "Individual runs (wall s):", ""]
    for row in rows:
        for kind in ("official", "shotbase"):
            for mode in ("end_to_end", "decode"):
                runs = ", ".join(f"{each:.3f}" for each in row[kind][mode]["runs"])
                lines.append(f"- {row['size']:,} {kind} {mode.replace('_', ' ')}: {runs}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally append) the tables."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments and arguments[0] == "--worker":
        sys.stdout.write(json.dumps(worker(*arguments[1:7])) + "\n")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated Task counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case (medians shown)")
    parser.add_argument("--append", type=Path, help="append the results to this markdown file")
    args = parser.parse_args(arguments)
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as directory:
        server = start_server(Path(directory) / "data")
        try:
            rows = [measure(server, size, Path(directory), args.repeat) for size in sizes]
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
            f"- Command: `.venv/bin/python bench/client.py --sizes {args.sizes} "
            f"--repeat {args.repeat}`",
            "",
        ]
        with args.append.open("a") as stream:
            stream.write("\n".join(header + lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
