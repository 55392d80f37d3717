"""A real ``shotbase serve`` process: start it on a free port, wait for /health, stop it.

The test fixtures (``tests/conftest.py``) and the benchmarks (``bench/harness.py``) both start
their servers through this module.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

START_SECONDS = 60
STOP_SECONDS = 15


class Running(Protocol):
    """Anything holding a server process that :func:`stop_server` can stop."""

    process: subprocess.Popen[str]


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


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    data_dir: Path, database_url: str, *extra: str, port: int | None = None
) -> ServerProcess:
    """Start ``shotbase serve`` on ``port`` (default: a free one) and wait until it answers.

    Args:
        data_dir: The server's data directory.
        database_url: SQLAlchemy URL of its database.
        extra: More ``shotbase serve`` arguments, e.g. ``"--redis", url``.
        port: The port to listen on; a free one when None.
    Returns:
        The running server. ``api_key`` is the admin key the server printed, or ``""`` when it
        printed none (only the first start on a new database prints one).
    Raises:
        RuntimeError: If the server exits or does not answer /health within a minute.
    """
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
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    api_key = _read_api_key(process, deadline)
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


def _read_api_key(process: subprocess.Popen[str], deadline: float) -> str:
    """Read the server's output up to "serving on"; return the admin API key it printed, if any."""
    assert process.stdout is not None
    api_key = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(r"api key: (\S+)", line)
        if found:
            api_key = found.group(1)
        if "serving on" in line:
            break
    return api_key


def drain(process: subprocess.Popen[str]) -> None:
    """Keep reading a server's output so that a full pipe never blocks it."""

    def read() -> None:
        assert process.stdout is not None
        with process.stdout:
            for _ in process.stdout:
                pass

    threading.Thread(target=read, daemon=True).start()


def stop_server(server: Running) -> None:
    """Stop a server started by :func:`start_server` (killing it if it takes too long)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
