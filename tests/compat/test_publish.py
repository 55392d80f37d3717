"""End to end with the official client: publish to SFTP, then transfer to disk and the server.

The official ftrack client drives a real shotbase server; its SFTP location uses our
SFTPAccessor on a real OpenSSH sshd, its disk location our DiskAccessor, and its built-in
``ftrack.server`` location our server store.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shotbase.storage.accessor.disk import DiskAccessor
from shotbase.storage.accessor.sftp import SFTPAccessor
from shotbase.storage.structure import IdStructure, StandardStructure
from tests.conftest import ServerProcess
from tests.sshd import SSHServer, start_sshd, stop_sshd

FRAMES = 100
SERVER_LOCATION_ID = "3a372bde-05bc-11e4-8908-20c9d081909b"


@pytest.fixture(scope="module")
def sshd() -> Iterator[SSHServer]:
    """sshd on loopback for this module."""
    server = start_sshd()
    yield server
    stop_sshd(server)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def read_back(location: Any, component: Any) -> str:
    handle = location.accessor.open(location.get_resource_identifier(component), "rb")
    try:
        return md5(handle.read())
    finally:
        handle.close()


def new_location(session: Any, name: str, accessor: Any, structure: Any) -> Any:
    location = session.create("Location", {"name": f"{name}.{uuid.uuid4().hex[:8]}"})
    session.commit()
    location.accessor, location.structure, location.priority = accessor, structure, 5
    return location


@pytest.mark.slow
def test_official_client_publishes_through_sftp_to_disk_and_server(
    server: ServerProcess, session: Any, sshd: SSHServer, tmp_path: Path
) -> None:
    render = tmp_path / "render"
    render.mkdir()
    checksums = {}
    for frame in range(1, FRAMES + 1):
        data = os.urandom(4096 + frame)
        (render / f"beauty.{frame:04d}.exr").write_bytes(data)
        checksums[f"{frame:04d}"] = md5(data)
    movie = tmp_path / "review.mov"
    movie.write_bytes(os.urandom(1024 * 1024 + 7))
    project = session.create(
        "Project",
        {
            "name": f"p{uuid.uuid4().hex[:8]}",
            "full_name": "Publish",
            "project_schema": session.query("ProjectSchema").first(),
        },
    )
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    asset = session.create("Asset", {"name": "beauty", "parent": shot})
    version = session.create("AssetVersion", {"asset": asset})
    session.commit()
    folder = sshd.make_folder(f"publish-{uuid.uuid4().hex[:8]}")
    sftp = new_location(
        session,
        "sftp",
        SFTPAccessor(
            sshd.host,
            sshd.user,
            sshd.port,
            sshd.password,
            folder=str(folder),
            known_hosts=sshd.known_hosts,
        ),
        StandardStructure(),
    )
    disk = new_location(session, "disk", DiskAccessor(tmp_path / "disk"), IdStructure())
    server_location = session.get("Location", SERVER_LOCATION_ID)

    sequence = version.create_component(
        f"{render}/beauty.%04d.exr [1-{FRAMES}]", {"name": "beauty"}, location=sftp
    )
    single = version.create_component(str(movie), {"name": "review"}, location=sftp)
    for target in (disk, server_location):
        target.add_components([sequence, single], sftp)

    members = list(sequence["members"])
    assert len(members) == FRAMES
    for location in (sftp, disk, server_location):
        assert location.get_component_availabilities([sequence, single]) == [100.0, 100.0]
        assert read_back(location, single) == md5(movie.read_bytes())
    for location in (sftp, disk):
        for member in members[:: FRAMES // 10]:
            assert read_back(location, member) == checksums[member["name"]]
    on_sftp = sorted(folder.rglob("beauty.*.exr"))
    assert {md5(path.read_bytes()) for path in on_sftp} == set(checksums.values())
    sftp.accessor.close()
