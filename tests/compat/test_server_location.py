"""The official client's built-in ``ftrack.server`` location stores data on shotbase."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.compat.conftest import official_session
from tests.conftest import ServerProcess


def test_component_uploaded_to_the_server_location_reads_back(
    server: ServerProcess, session: Any, tmp_path: Path
) -> None:
    data = os.urandom(300_001)
    path = tmp_path / "plate.exr"
    path.write_bytes(data)
    location = session.query('Location where name is "ftrack.server"').one()
    component = session.create_component(str(path), data={"name": "main"}, location=location)
    session.commit()
    assert component["size"] == len(data)
    assert location.get_component_availability(component) == 100.0
    with official_session(server) as fresh:
        stored = fresh.get("FileComponent", component["id"])
        server_location = fresh.query('Location where name is "ftrack.server"').one()
        identifier = server_location.get_resource_identifier(stored)
        handle = server_location.accessor.open(identifier, "rb")
        try:
            assert handle.read() == data
        finally:
            handle.close()


def test_removing_the_component_from_the_server_location_deletes_its_data(
    server: ServerProcess, session: Any, tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello")
    location = session.query('Location where name is "ftrack.server"').one()
    component = session.create_component(str(path), location=location)
    session.commit()
    location.remove_component(component)
    assert location.get_component_availability(component) == 0.0
    stored = (
        server.data_dir / "files" / component["id"][:2] / component["id"][2:4] / component["id"]
    )
    assert not stored.exists()
