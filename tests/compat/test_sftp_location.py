"""The official client uses SFTPAccessor (and our IdStructure) as a location's accessor."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shotbase.storage.accessor.sftp import SFTPAccessor
from shotbase.storage.structure import IdStructure
from tests.compat.conftest import official_session
from tests.conftest import ServerProcess
from tests.sshd import SSHServer, start_sshd, stop_sshd


@pytest.fixture(scope="module")
def sshd() -> Iterator[SSHServer]:
    """sshd on loopback for this module."""
    server = start_sshd()
    yield server
    stop_sshd(server)


def test_official_location_adds_a_component_through_sftp(
    server: ServerProcess, sshd: SSHServer, tmp_path: Path
) -> None:
    folder = sshd.make_folder(f"location-{uuid.uuid4().hex[:8]}")
    source = tmp_path / "plate.exr"
    data = os.urandom(3 * 1024 * 1024 + 5)
    source.write_bytes(data)
    session: Any = official_session(server)
    try:
        location = session.create("Location", {"name": f"sftp.{uuid.uuid4().hex[:8]}"})
        session.commit()
        location.accessor = SFTPAccessor(
            sshd.host,
            sshd.user,
            sshd.port,
            sshd.password,
            folder=str(folder),
            known_hosts=sshd.known_hosts,
        )
        location.structure = IdStructure()
        location.priority = 1

        component = session.create_component(str(source), location=location)
        resource_identifier = location.get_resource_identifier(component)

        assert location.get_component_availability(component) == 100.0
        assert (folder / resource_identifier).read_bytes() == data
        with location.accessor.open(resource_identifier, "rb") as handle:
            assert handle.read() == data
        location.accessor.close()
    finally:
        session.close()
