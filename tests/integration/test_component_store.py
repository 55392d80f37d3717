"""Uploads and downloads of the server store: bad input is refused and nothing partial stays."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from PIL import Image

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
        (b"frame" * 1001, {}, "larger than announced"),
        (b"x" * 5000, {}, "corrupt"),
        (b"frame" * 1000, {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, "corrupt"),
    ],
    ids=["short-body", "long-body", "wrong-bytes", "wrong-content-md5-header"],
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


def multipart(server: ServerProcess, component_id: str, size: int, parts: int) -> Any:
    operation = {
        "action": "get_upload_metadata",
        "component_id": component_id,
        "file_name": "plate.mov",
        "file_size": size,
        "parts": parts,
    }
    return run(server, operation)[0]


def put_parts(metadata: Any, data: bytes, chunk: int) -> list[dict[str, Any]]:
    """PUT each part as the JavaScript client does; return its completion list."""
    completed = []
    for url in metadata["urls"]:
        number = url["part_number"]
        answer = httpx.put(url["signed_url"], content=data[(number - 1) * chunk : number * chunk])
        assert answer.status_code == 200, answer.text
        completed.append({"part_number": number, "e_tag": answer.headers["ETag"].strip('"')})
    return completed


def complete(server: ServerProcess, metadata: Any, parts: list[dict[str, Any]]) -> httpx.Response:
    operation = {
        "action": "complete_multipart_upload",
        "upload_id": metadata["upload_id"],
        "component_id": metadata["component_id"],
        "parts": parts,
    }
    return server.call([operation], **STRICT)


def staged_parts(server: ServerProcess) -> list[Path]:
    root = server.data_dir / "files" / ".multipart"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_multipart_upload_is_assembled_and_downloads_whole(server: ServerProcess) -> None:
    component_id, data = str(uuid.uuid4()), os.urandom(25_000)
    metadata = multipart(server, component_id, len(data), 3)
    assert [url["part_number"] for url in metadata["urls"]] == [1, 2, 3]

    parts = put_parts(metadata, data, 10_000)
    answer = complete(server, metadata, list(reversed(parts)))

    assert answer.status_code == 200, answer.text
    result = answer.json()[0]
    assert result["action"] == "complete_multipart_upload"
    assert result["component_id"] == component_id
    credentials = urlencode({"username": server.api_user, "apiKey": server.api_key})
    download = httpx.get(f"{result['url']}&{credentials}")
    assert download.content == data
    assert staged_parts(server) == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda parts: parts[:2], "Part 3 of 3 is missing"),
        (lambda parts: [*parts[:2], {**parts[2], "part_number": 4}], "Part number 4 is not"),
        (lambda parts: [*parts[:2], {**parts[2], "e_tag": "0" * 32}], "does not match its ETag"),
    ],
    ids=["missing-part", "wrong-part-number", "wrong-etag"],
)
def test_bad_completion_is_refused_and_leaves_nothing(
    server: ServerProcess, change: Any, message: str
) -> None:
    component_id, data = str(uuid.uuid4()), os.urandom(25_000)
    metadata = multipart(server, component_id, len(data), 3)
    parts = put_parts(metadata, data, 10_000)

    answer = complete(server, metadata, change(parts))

    assert answer.status_code == 400
    assert answer.json()["exception"] == "ValueError"
    assert message in answer.json()["content"]
    assert not any(component_id in path.name for path in stored_files(server))
    assert staged_parts(server) == []


def test_part_never_sent_is_refused(server: ServerProcess) -> None:
    component_id, data = str(uuid.uuid4()), os.urandom(25_000)
    metadata = multipart(server, component_id, len(data), 3)
    parts = put_parts({**metadata, "urls": metadata["urls"][:2]}, data, 10_000)

    answer = complete(server, metadata, [*parts, {"part_number": 3, "e_tag": parts[0]["e_tag"]}])

    assert answer.status_code == 400
    assert "Part 3 of 3" in answer.json()["content"]
    assert not any(component_id in path.name for path in stored_files(server))


def test_part_url_with_another_part_number_is_refused(server: ServerProcess) -> None:
    metadata = multipart(server, str(uuid.uuid4()), 20_000, 2)

    tampered = metadata["urls"][0]["signed_url"].replace("part=1", "part=2")
    answer = httpx.put(tampered, content=b"x" * 10_000)

    assert answer.status_code == 400
    assert answer.json()["content"] == "The upload token is for part 1, not part 2."
    assert staged_parts(server) == []


def test_part_url_with_a_bad_signature_is_refused(server: ServerProcess) -> None:
    metadata = multipart(server, str(uuid.uuid4()), 20_000, 2)

    forged = metadata["urls"][0]["signed_url"].replace("token=", "token=x")
    answer = httpx.put(forged, content=b"x" * 10_000)

    assert answer.status_code == 400
    assert answer.json()["content"] == "The upload token is not valid."
    assert staged_parts(server) == []


def test_forged_upload_id_is_refused(server: ServerProcess) -> None:
    component_id, data = str(uuid.uuid4()), os.urandom(20_000)
    metadata = multipart(server, component_id, len(data), 2)
    parts = put_parts(metadata, data, 10_000)

    answer = complete(server, {**metadata, "upload_id": "x" + metadata["upload_id"]}, parts)

    assert answer.status_code == 400
    assert answer.json()["content"] == "The upload id is not valid."
    assert complete(server, metadata, parts).status_code == 200


@pytest.mark.parametrize("parts", [0, 10_001, "3", True])
def test_bad_part_counts_are_refused(server: ServerProcess, parts: Any) -> None:
    operation = {
        "action": "get_upload_metadata",
        "component_id": str(uuid.uuid4()),
        "file_name": "x.mov",
        "file_size": 10,
        "parts": parts,
    }
    answer = server.call([operation], **STRICT)
    assert answer.status_code == 400
    assert "'parts' must be" in answer.json()["content"]


# Thumbnails ------------------------------------------------------------------------------------


def store_image(server: ServerProcess, data: bytes) -> str:
    component_id = str(uuid.uuid4())
    metadata = upload_metadata(server, component_id, data)
    assert httpx.put(metadata["url"], content=data, headers=metadata["headers"]).status_code == 200
    return component_id


def thumbnail(server: ServerProcess, component_id: str, size: str | None) -> httpx.Response:
    params = {"id": component_id, "username": server.api_user, "apiKey": server.api_key}
    if size is not None:
        params["size"] = size
    return httpx.get(f"{server.url}/component/thumbnail", params=params)


def test_thumbnail_with_size_is_resized(server: ServerProcess) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 300), "green").save(buffer, "PNG")
    component_id = store_image(server, buffer.getvalue())

    answer = thumbnail(server, component_id, "300")

    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(answer.content)) as image:
        assert image.size == (300, 150)
    assert thumbnail(server, component_id, None).content == buffer.getvalue()


def test_thumbnail_of_non_image_data_is_a_clear_error(server: ServerProcess) -> None:
    component_id = store_image(server, b"plain text, not pixels")

    answer = thumbnail(server, component_id, "300")

    assert answer.status_code == 400
    assert "is not an image" in answer.json()["content"]


@pytest.mark.parametrize("size", ["0", "-3", "big", "99999"])
def test_bad_thumbnail_sizes_are_refused(server: ServerProcess, size: str) -> None:
    answer = thumbnail(server, str(uuid.uuid4()), size)
    assert answer.status_code == 400
    assert "'size' must be a whole number of pixels" in answer.json()["content"]
