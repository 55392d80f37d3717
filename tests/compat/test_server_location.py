"""The official client's built-in ``ftrack.server`` location stores data on shotbase.

The official Python client (3.1.0) uploads every file in one ``PUT``; only the JavaScript
client splits large files into parts (PROTOCOL 6.4). The multi-part test replays that
client's exact wire sequence through the official Python session, then reads the data back
through the official client's server location.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path
from typing import Any

import ftrack_api.exception
import pytest
import requests
from PIL import Image

from tests.compat.conftest import official_session
from tests.conftest import ServerProcess

MIB = 1024 * 1024
# The JavaScript uploader's part size for files up to 128 MiB; it uses parts when a file
# needs more than two of them.
JS_CHUNK_SIZE = 8 * MIB


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


def upload_like_the_javascript_client(session: Any, path: Path) -> str:
    """The wire sequence of ftrack-javascript's ``Uploader`` for a multi-part file."""
    size, component_id = path.stat().st_size, str(uuid.uuid4())
    parts = -(-size // JS_CHUNK_SIZE)
    assert parts > 2, "the JavaScript client would send this file in one part"
    component = {"id": component_id, "name": path.stem, "file_type": path.suffix, "size": size}
    metadata = {
        "action": "get_upload_metadata",
        "file_name": path.name,
        "file_size": size,
        "component_id": component_id,
        "parts": parts,
    }
    created = {"action": "create", "entity_type": "FileComponent", "entity_data": component}
    answer = session.call([created, metadata])[1]
    uploaded = []
    with path.open("rb") as source:
        for url in answer["urls"]:
            source.seek((url["part_number"] - 1) * JS_CHUNK_SIZE)
            response = requests.put(url["signed_url"], data=source.read(JS_CHUNK_SIZE))
            assert response.status_code == 200 and response.headers["ETag"]
            etag = response.headers["ETag"].replace('"', "")
            uploaded.append({"part_number": url["part_number"], "e_tag": etag})
    location = session.query('Location where name is "ftrack.server"').one()
    complete = {
        "action": "complete_multipart_upload",
        "upload_id": answer["upload_id"],
        "parts": sorted(uploaded, key=lambda part: part["part_number"]),
        "component_id": component_id,
    }
    where = {
        "id": str(uuid.uuid4()),
        "component_id": component_id,
        "resource_identifier": component_id,
        "location_id": location["id"],
    }
    registered = {"action": "create", "entity_type": "ComponentLocation", "entity_data": where}
    result = session.call([complete, registered])[0]
    assert result["action"] == "complete_multipart_upload"
    return component_id


def test_multi_part_upload_reads_back_through_the_official_server_location(
    server: ServerProcess, session: Any, tmp_path: Path
) -> None:
    path = tmp_path / "plate.mov"
    path.write_bytes(os.urandom(2 * JS_CHUNK_SIZE + 1))  # just over two parts: three parts

    component_id = upload_like_the_javascript_client(session, path)

    with official_session(server) as fresh:
        component = fresh.get("FileComponent", component_id)
        location = fresh.query('Location where name is "ftrack.server"').one()
        assert location.get_component_availability(component) == 100.0
        handle = location.accessor.open(location.get_resource_identifier(component), "rb")
        try:
            received = hashlib.md5(handle.read()).hexdigest()
        finally:
            handle.close()
    assert received == hashlib.md5(path.read_bytes()).hexdigest()


def test_completion_with_a_missing_part_is_a_server_error_for_the_official_client(
    server: ServerProcess, session: Any
) -> None:
    component_id = str(uuid.uuid4())
    metadata = {
        "action": "get_upload_metadata",
        "file_name": "plate.mov",
        "file_size": 30,
        "component_id": component_id,
        "parts": 3,
    }
    answer = session.call([metadata])[0]
    first = requests.put(answer["urls"][0]["signed_url"], data=b"x" * 10)
    complete = {
        "action": "complete_multipart_upload",
        "upload_id": answer["upload_id"],
        "parts": [{"part_number": 1, "e_tag": first.headers["ETag"].strip('"')}],
        "component_id": component_id,
    }

    with pytest.raises(ftrack_api.exception.ServerError, match="Part 2 of 3 is missing"):
        session.call([complete])
    assert not (server.data_dir / "files" / component_id[:2] / component_id[2:4]).exists()


def test_thumbnail_url_of_the_official_client_serves_a_resized_image(
    session: Any, tmp_path: Path
) -> None:
    path = tmp_path / "frame.png"
    Image.new("RGB", (800, 400), "purple").save(path)
    location = session.query('Location where name is "ftrack.server"').one()
    component = session.create_component(str(path), data={"name": "thumbnail"}, location=location)
    session.commit()

    url = location.get_thumbnail_url(component, size=200)
    answer = requests.get(url)

    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(answer.content)) as image:
        assert image.size == (200, 100)
    assert requests.get(location.get_thumbnail_url(component)).content == path.read_bytes()
