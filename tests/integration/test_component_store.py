"""Uploads and downloads of the server store: bad input is refused and nothing partial stays."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.integration.conftest import STRICT, run


def upload_metadata(server: ServerProcess, component_id: str, data: bytes, **extra: Any) -> Any:
    checksum = base64.b64encode(hashlib.md5(data).digest()).decode()
    operation = {
        "action": "get_upload_metadata",
        "component_id": component_id,
        "file_name": "plate.exr",
        "file_size": len(data),
        "checksum": checksum,
        **extra,
    }
    return run(server, operation)[0]


def stored_files(server: ServerProcess) -> list[Path]:
    root = server.data_dir / "files"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_upload_then_download_round_trips(server: ServerProcess) -> None:
    component_id, data = str(uuid.uuid4()), b"frame" * 1000
    metadata = upload_metadata(server, component_id, data)
    assert httpx.put(metadata["url"], content=data, headers=metadata["headers"]).status_code == 200
    answer = httpx.get(
        f"{server.url}/component/get",
        params={"id": component_id, "username": server.api_user, "apiKey": server.api_key},
    )
    assert answer.status_code == 200 and answer.content == data


@pytest.mark.parametrize(
    "body, headers, message",
    [
        (b"frame" * 999, {}, "incomplete"),
        (b"x" * 5000, {}, "corrupt"),
        (b"frame" * 1000, {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, "corrupt"),
    ],
    ids=["short-body", "wrong-bytes", "wrong-content-md5-header"],
)
def test_broken_upload_is_refused_and_leaves_no_file(
    server: ServerProcess, body: bytes, headers: dict[str, str], message: str
) -> None:
    component_id = str(uuid.uuid4())
    metadata = upload_metadata(server, component_id, b"frame" * 1000)
    sent = {**metadata["headers"], **headers}
    sent.pop("Content-Length", None)
    answer = httpx.put(metadata["url"], content=body, headers=sent)
    assert answer.status_code == 400
    assert message in answer.json()["content"]
    assert not any(component_id in path.name for path in stored_files(server))


def test_forged_token_is_refused(server: ServerProcess) -> None:
    component_id = str(uuid.uuid4())
    metadata = upload_metadata(server, component_id, b"data")
    forged = metadata["url"].replace("token=", "token=x")
    answer = httpx.put(forged, content=b"data")
    assert answer.status_code == 400
    assert answer.json()["content"] == "The upload token is not valid."


def test_token_for_another_component_is_refused(server: ServerProcess) -> None:
    metadata = upload_metadata(server, str(uuid.uuid4()), b"data")
    other = metadata["url"].replace(metadata["component_id"], str(uuid.uuid4()))
    answer = httpx.put(other, content=b"data")
    assert answer.status_code == 400
    assert "another component" in answer.json()["content"]


@pytest.mark.parametrize("component_id", ["../../etc/passwd", "/abs", "a/b", "..", ""])
def test_component_ids_that_could_escape_the_store_are_refused(
    server: ServerProcess, component_id: str
) -> None:
    operation = {"action": "get_upload_metadata", "component_id": component_id, "file_name": "x"}
    answer = server.call([operation], **STRICT)
    assert answer.status_code == 400
    download = httpx.get(
        f"{server.url}/component/get",
        params={"id": component_id, "username": server.api_user, "apiKey": server.api_key},
    )
    assert download.status_code == 400


def test_download_needs_credentials(server: ServerProcess) -> None:
    answer = httpx.get(f"{server.url}/component/get", params={"id": str(uuid.uuid4())})
    assert answer.status_code == 401
    assert answer.json()["exception"] == "InvalidCredentialsError"


def test_download_of_missing_data_is_not_found(server: ServerProcess) -> None:
    answer = httpx.get(
        f"{server.url}/component/get",
        params={"id": str(uuid.uuid4()), "username": server.api_user, "apiKey": server.api_key},
    )
    assert answer.status_code == 404


def test_multipart_upload_is_refused_clearly(server: ServerProcess) -> None:
    operation = {
        "action": "get_upload_metadata",
        "component_id": str(uuid.uuid4()),
        "file_name": "x.mov",
        "file_size": 10,
        "parts": 3,
    }
    answer = server.call([operation], **STRICT)
    assert answer.status_code == 400
    assert "Multi-part uploads are not supported yet" in answer.json()["content"]
