"""A real shotbase Session on an in-process server over a SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from shotbase.client import Session, Transport
from shotbase.client.local import open_local_server


@pytest.fixture(scope="module")
def local_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of one in-process server, shared by a module's tests."""
    return tmp_path_factory.mktemp("local")


@pytest.fixture
def session(local_path: Path) -> Iterator[Session]:
    """A fresh session on the module's in-process server."""
    with Session.local(local_path) as opened:
        yield opened


def make_tree(session: Session) -> tuple[Any, Any, Any, Any]:
    """Create and commit a project, sequence, shot and task."""
    schema = session.query("ProjectSchema").first()
    name = f"proj_{uuid.uuid4().hex[:8]}"
    project = session.create(
        "Project", {"name": name, "full_name": name.upper(), "project_schema": schema}
    )
    sequence = session.create("Sequence", {"name": "sq01", "parent": project})
    shot = session.create("Shot", {"name": "sh010", "parent": sequence})
    task = session.create("Task", {"name": "comp", "parent": shot})
    session.commit()
    return project, sequence, shot, task


class RecordingTransport:
    """Passes requests to another transport and keeps each request's operations."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.sent: list[list[Any]] = []

    def post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        self.sent.append(orjson.loads(body))
        return self.inner.post(body, headers)

    def stream(self, method: str, url: str, headers: Mapping[str, str], content: Any = None) -> Any:
        return self.inner.stream(method, url, headers, content)

    def close(self) -> None:
        self.inner.close()


def recording_session(path: Path, **options: Any) -> tuple[Session, RecordingTransport]:
    """A local session whose requests are recorded (after start-up)."""
    transport, user, key = open_local_server(path)
    recorder = RecordingTransport(transport)
    session = Session(
        "http://shotbase.local", key, user, transport=recorder, schema_cache_path=False, **options
    )
    recorder.sent.clear()
    return session, recorder
