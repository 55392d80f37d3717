"""End to end with our Session: publish to SFTP, then transfer to disk and to the server store.

A real server process (SQLite and PostgreSQL), a real OpenSSH sshd, our client over HTTP.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shotbase.client import Session
from shotbase.client.location import SERVER_LOCATION_ID
from shotbase.storage.accessor.disk import DiskAccessor
from shotbase.storage.accessor.sftp import SFTPAccessor
from shotbase.storage.structure import IdStructure, StandardStructure
from tests.conftest import ServerProcess
from tests.sshd import SSHServer
from tests.unit.client.conftest import make_tree

FRAMES = 100


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@pytest.fixture
def session(server: ServerProcess) -> Iterator[Session]:
    with Session(server.url, server.api_key, server.api_user, schema_cache_path=False) as opened:
        yield opened


def configured(session: Session, name: str, accessor: Any, structure: Any) -> Any:
    location: Any = session.ensure("Location", {"name": f"{name}.{uuid.uuid4().hex[:8]}"})
    location.accessor, location.structure = accessor, structure
    return location


def read_back(location: Any, component: Any) -> str:
    with location.accessor.open(location.get_resource_identifier(component), "rb") as handle:
        return md5(handle.read())


@pytest.mark.slow
def test_file_and_sequence_published_to_sftp_reach_disk_and_server(
    session: Session, sshd: SSHServer, sftp_folder: Path, tmp_path: Path
) -> None:
    render = tmp_path / "render"
    render.mkdir()
    checksums = {}
    for frame in range(1, FRAMES + 1):
        data = os.urandom(4096 + frame)
        (render / f"beauty.{frame:04d}.exr").write_bytes(data)
        checksums[f"{frame:04d}"] = md5(data)
    movie = tmp_path / "review.mov"
    movie.write_bytes(os.urandom(2 * 1024 * 1024 + 11))
    _, _, shot, task = make_tree(session)
    asset: Any = session.create("Asset", {"name": "beauty", "parent": shot})
    version: Any = session.create("AssetVersion", {"asset": asset, "task": task})
    session.commit()
    sftp = configured(
        session,
        "sftp",
        SFTPAccessor(
            sshd.host,
            sshd.user,
            sshd.port,
            folder=str(sftp_folder),
            key_filename=sshd.client_key,
            known_hosts=sshd.known_hosts,
        ),
        StandardStructure(),
    )
    disk = configured(session, "disk", DiskAccessor(tmp_path / "disk"), IdStructure())
    server: Any = session.get("Location", SERVER_LOCATION_ID)

    sequence: Any = version.create_component(
        f"{render}/beauty.%04d.exr [1-{FRAMES}]", {"name": "beauty"}, location=sftp
    )
    single: Any = version.create_component(str(movie), {"name": "review"}, location=sftp)
    for target in (disk, server):
        target.add_components([sequence, single], sftp)

    members = list(sequence["members"])
    assert len(members) == FRAMES
    for location in (sftp, disk, server):
        assert location.get_component_availabilities([sequence, single]) == [100.0, 100.0]
        assert read_back(location, single) == md5(movie.read_bytes())
        for member in members[:: FRAMES // 10]:
            assert read_back(location, member) == checksums[member["name"]]
    on_sftp = sorted((sftp_folder).rglob("beauty.*.exr"))
    assert len(on_sftp) == FRAMES
    assert {md5(path.read_bytes()) for path in on_sftp} == set(checksums.values())
    with Session(session.server_url, session.api_key, session.api_user) as fresh:
        again: Any = fresh.get("SequenceComponent", sequence["id"])
        availability = fresh.get_component_availability(again)
        assert availability[sftp["id"]] == availability[server["id"]] == 100.0
    sftp.accessor.close()
