"""The server store on tmp_path: signed tokens, multi-part assembly and cached thumbnails."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from shotbase.errors import EntityNotFoundError, RequestError
from shotbase.server.file_store import FileStore, MultipartUpload, UploadGrant, UploadSigner

COMPONENT = "5f1c2d3e-0000-4000-8000-000000000001"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files")


@pytest.fixture
def signer() -> UploadSigner:
    return UploadSigner(b"k" * 32)


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def write_part(store: FileStore, upload: MultipartUpload, number: int, data: bytes) -> str:
    return asyncio.run(store.write_part(upload.part_grant(number), _chunks(data), None))


def upload_parts(store: FileStore, parts: list[bytes]) -> tuple[MultipartUpload, list[str]]:
    upload = store.start_upload(COMPONENT, len(parts), sum(map(len, parts)), None)
    etags = [write_part(store, upload, number, data) for number, data in enumerate(parts, 1)]
    return upload, etags


def leftovers(store: FileStore) -> list[str]:
    """Every file under the store except finished component data."""
    return sorted(
        str(path.relative_to(store.root))
        for path in store.root.rglob("*")
        if path.is_file() and path != store.path(COMPONENT)
    )


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), "red").save(buffer, "PNG")
    return buffer.getvalue()


def store_data(store: FileStore, data: bytes) -> None:
    grant = UploadGrant(COMPONENT, len(data), None, int(time.time()) + 60)
    asyncio.run(store.write(grant, _chunks(data), None))


# Tokens --------------------------------------------------------------------------------------


def test_part_token_round_trips_with_its_upload_and_part(signer: UploadSigner) -> None:
    upload = MultipartUpload(COMPONENT, 3, 30, None, int(time.time()) + 60, "abc")

    grant = signer.check(signer.sign(upload.part_grant(2)), COMPONENT)

    assert (grant.upload, grant.part_number, grant.size) == ("abc", 2, 30)
    assert signer.check_upload(signer.sign_upload(upload), COMPONENT) == upload


def test_a_part_token_is_not_an_upload_id(signer: UploadSigner) -> None:
    upload = MultipartUpload(COMPONENT, 3, 30, None, int(time.time()) + 60, "abc")

    with pytest.raises(RequestError, match="upload id is not valid"):
        signer.check_upload(signer.sign(upload.part_grant(1)), COMPONENT)
    with pytest.raises(RequestError, match="upload token is not valid"):
        signer.check(signer.sign_upload(upload), COMPONENT)


def test_upload_id_signed_with_another_secret_is_refused(signer: UploadSigner) -> None:
    upload = MultipartUpload(COMPONENT, 3, 30, None, int(time.time()) + 60, "abc")
    forged = UploadSigner(b"x" * 32).sign_upload(upload)

    with pytest.raises(RequestError, match="upload id is not valid"):
        signer.check_upload(forged, COMPONENT)


def test_upload_id_for_another_component_is_refused(signer: UploadSigner) -> None:
    upload = MultipartUpload(COMPONENT, 3, 30, None, int(time.time()) + 60, "abc")

    with pytest.raises(RequestError, match="another component"):
        signer.check_upload(signer.sign_upload(upload), "other")


# Multi-part ----------------------------------------------------------------------------------


def test_parts_are_assembled_in_order_and_checked(store: FileStore) -> None:
    parts = [os.urandom(3000), os.urandom(3000), os.urandom(17)]
    upload, etags = upload_parts(store, parts)

    size = store.complete_upload(upload, [(3, etags[2]), (1, etags[0]), (2, etags[1])])

    assert size == 6017
    assert store.path(COMPONENT).read_bytes() == b"".join(parts)
    assert etags[0] == hashlib.md5(parts[0]).hexdigest()
    assert leftovers(store) == []


def test_quoted_etags_are_accepted(store: FileStore) -> None:
    upload, etags = upload_parts(store, [b"a" * 10, b"b" * 10])

    store.complete_upload(upload, [(1, f'"{etags[0]}"'), (2, etags[1].upper())])

    assert store.path(COMPONENT).read_bytes() == b"a" * 10 + b"b" * 10


@pytest.mark.parametrize(
    "listed, message",
    [
        ([(1, "E1")], "Part 2 of 2 is missing from the completion"),
        ([(1, "E1"), (2, "E2"), (3, "E2")], "Part number 3 is not one of this upload's parts"),
        ([(1, "E1"), (1, "E1"), (2, "E2")], "Part 1 is listed twice"),
        ([(1, "E1"), (2, "0" * 32)], "Part 2 of .* does not match its ETag"),
    ],
    ids=["missing-part", "wrong-part-number", "duplicate-part", "wrong-etag"],
)
def test_bad_completion_aborts_and_leaves_nothing(
    store: FileStore, listed: list[tuple[int, str]], message: str
) -> None:
    upload, etags = upload_parts(store, [b"a" * 10, b"b" * 10])
    real = {"E1": etags[0], "E2": etags[1]}

    with pytest.raises(RequestError, match=message):
        store.complete_upload(upload, [(number, real.get(etag, etag)) for number, etag in listed])

    assert not store.path(COMPONENT).exists()
    assert leftovers(store) == []
    with pytest.raises(RequestError, match="no parts on the server"):
        store.complete_upload(upload, [(1, etags[0]), (2, etags[1])])


def test_a_part_sent_again_replaces_the_earlier_one(store: FileStore) -> None:
    upload = store.start_upload(COMPONENT, 2, 20, None)
    write_part(store, upload, 1, b"x" * 10)
    first = write_part(store, upload, 1, b"a" * 10)
    second = write_part(store, upload, 2, b"b" * 10)

    store.complete_upload(upload, [(1, first), (2, second)])

    assert store.path(COMPONENT).read_bytes() == b"a" * 10 + b"b" * 10


def test_part_never_uploaded_is_named(store: FileStore) -> None:
    upload = store.start_upload(COMPONENT, 2, 20, None)
    etag = write_part(store, upload, 1, b"a" * 10)

    with pytest.raises(RequestError, match="Part 2 of 2 .* was never uploaded"):
        store.complete_upload(upload, [(1, etag), (2, etag)])
    assert not store.path(COMPONENT).exists() and leftovers(store) == []


def test_parts_that_add_up_to_another_size_are_refused(store: FileStore) -> None:
    upload = store.start_upload(COMPONENT, 2, 25, None)
    etags = [write_part(store, upload, 1, b"a" * 10), write_part(store, upload, 2, b"b" * 10)]

    with pytest.raises(RequestError, match="25 bytes expected, 20 received"):
        store.complete_upload(upload, list(enumerate(etags, 1)))
    assert not store.path(COMPONENT).exists()


def test_whole_file_checksum_is_checked_after_assembly(store: FileStore) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    upload = store.start_upload(COMPONENT, 1, 10, wrong)
    etag = write_part(store, upload, 1, b"a" * 10)

    with pytest.raises(RequestError, match="corrupt"):
        store.complete_upload(upload, [(1, etag)])
    assert not store.path(COMPONENT).exists() and leftovers(store) == []


def test_part_larger_than_the_whole_file_is_refused(store: FileStore) -> None:
    upload = store.start_upload(COMPONENT, 2, 10, None)

    with pytest.raises(RequestError, match="larger than announced"):
        write_part(store, upload, 1, b"a" * 11)
    assert leftovers(store) == []


def test_part_with_wrong_content_md5_is_not_kept(store: FileStore) -> None:
    upload = store.start_upload(COMPONENT, 2, 20, None)
    grant = upload.part_grant(1)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()

    with pytest.raises(RequestError, match="corrupt"):
        asyncio.run(store.write_part(grant, _chunks(b"a" * 10), wrong))
    assert leftovers(store) == []


@pytest.mark.parametrize("parts", [0, 10_001])
def test_part_count_out_of_range_is_refused(store: FileStore, parts: int) -> None:
    with pytest.raises(RequestError, match="'parts' must be between 1 and 10000"):
        store.start_upload(COMPONENT, parts, None, None)


def test_parts_of_expired_uploads_are_removed_when_the_next_starts(store: FileStore) -> None:
    stale = MultipartUpload(COMPONENT, 2, None, None, int(time.time()) - 10, "stale")
    write_part(store, stale, 1, b"old")

    store.start_upload(COMPONENT, 2, None, None)

    assert leftovers(store) == []


# Thumbnails ----------------------------------------------------------------------------------


def test_thumbnail_fits_the_image_into_the_square(store: FileStore) -> None:
    store_data(store, png(400, 200))

    thumbnail = store.thumbnail(COMPONENT, 100)

    with Image.open(thumbnail.path) as image:
        assert image.size == (100, 50) and image.format == "JPEG"
    assert thumbnail.media_type == "image/jpeg"


def test_thumbnail_is_cached_per_size(store: FileStore) -> None:
    store_data(store, png(400, 200))
    first = store.thumbnail(COMPONENT, 100)
    rendered = first.path.stat().st_mtime_ns

    assert store.thumbnail(COMPONENT, 100).path == first.path
    assert first.path.stat().st_mtime_ns == rendered
    assert store.thumbnail(COMPONENT, 50).path != first.path


def test_thumbnail_is_rendered_again_after_new_data(store: FileStore) -> None:
    store_data(store, png(400, 200))
    store.thumbnail(COMPONENT, 100)

    store_data(store, png(200, 400))

    with Image.open(store.thumbnail(COMPONENT, 100).path) as image:
        assert image.size == (50, 100)


def test_thumbnail_keeps_transparency_as_png(store: FileStore) -> None:
    store_data(store, png(400, 400, "RGBA"))

    thumbnail = store.thumbnail(COMPONENT, 64)

    assert thumbnail.media_type == "image/png"
    with Image.open(thumbnail.path) as image:
        assert image.mode == "RGBA" and image.size == (64, 64)


def test_small_web_image_is_served_as_stored(store: FileStore) -> None:
    store_data(store, png(40, 30))

    assert store.thumbnail(COMPONENT, 100).path == store.path(COMPONENT)


def test_small_tiff_is_converted_for_browsers(store: FileStore) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(buffer, "TIFF")
    store_data(store, buffer.getvalue())

    thumbnail = store.thumbnail(COMPONENT, 100)

    assert thumbnail.media_type == "image/jpeg"
    with Image.open(thumbnail.path) as image:
        assert image.size == (40, 30)


def test_non_image_data_has_no_thumbnail(store: FileStore) -> None:
    store_data(store, b"not an image at all")

    with pytest.raises(RequestError, match="is not an image this server can read"):
        store.thumbnail(COMPONENT, 100)


def test_thumbnail_of_missing_data_is_not_found(store: FileStore) -> None:
    with pytest.raises(EntityNotFoundError):
        store.thumbnail(COMPONENT, 100)


def test_removing_data_removes_its_thumbnails(store: FileStore) -> None:
    store_data(store, png(400, 200))
    store.thumbnail(COMPONENT, 100)

    store.remove(COMPONENT)

    assert leftovers(store) == []
