"""The server's own store for component data (the ``ftrack.server`` location).

Files live under ``<data>/files/<aa>/<bb>/<component id>``. Uploads stream to a temporary
name beside the final one, are checked (byte count, MD5) and renamed only when complete, so a
reader never sees a partial file. Upload URLs carry a signed, expiring token instead of
credentials.

Multi-part uploads (the JavaScript client's, PROTOCOL 6.4) keep each part under
``<data>/files/.multipart/<expires>-<key>/`` until ``complete_multipart_upload`` assembles
them into the component's file; a failed completion removes the parts. Thumbnails resized to
fit ``size`` x ``size`` are cached under ``<data>/files/.thumbnails/``, keyed by component and
size, and rendered again when the component's data is newer than the cached file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from shotbase.errors import EntityNotFoundError, RequestError

__all__ = ["FileStore", "MultipartUpload", "Thumbnail", "UploadGrant", "UploadSigner"]

logger = logging.getLogger(__name__)

COMPONENT_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")
UPLOAD_SECONDS = 6 * 3600
MAX_PARTS = 10_000
CHUNK_SIZE = 1024 * 1024
MAX_THUMBNAIL_SIZE = 4096
_STAGING = ".multipart"
_THUMBNAILS = ".thumbnails"
# Formats every browser shows; an image in one of them that already fits is served as stored.
WEB_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
_SUFFIX_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """What an upload token allows: one component's data, of this size and checksum.

    A part grant (``part_number`` set) allows one part of the multi-part upload ``upload``;
    its ``size`` is then the whole file's, an upper bound for the part.
    """

    component_id: str
    size: int | None
    checksum: str | None
    expires: int
    upload: str | None = None
    part_number: int | None = None


@dataclass(frozen=True, slots=True)
class MultipartUpload:
    """A multi-part upload as ``get_upload_metadata`` started it; signed into its upload id.

    ``key`` is random and names the folder the parts are kept in.
    """

    component_id: str
    parts: int
    size: int | None
    checksum: str | None
    expires: int
    key: str

    def part_grant(self, part_number: int) -> UploadGrant:
        """The grant of the URL that uploads part ``part_number``."""
        return UploadGrant(self.component_id, self.size, None, self.expires, self.key, part_number)


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """An image file to send and its media type."""

    path: Path
    media_type: str


class UploadSigner:
    """Signs and checks upload tokens and upload ids with a secret kept in the data directory.

    Every signed value starts with its kind (``u`` single upload, ``p`` part, ``m`` multi-part
    upload id), so one kind can never be passed off as another.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "UploadSigner()"

    @classmethod
    def in_directory(cls, directory: Path) -> UploadSigner:
        """The signer whose secret is ``directory/upload.key``, created on first use."""
        path = directory / "upload.key"
        if not path.exists():
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def sign(self, grant: UploadGrant) -> str:
        """The token for ``grant`` (a single upload or one part)."""
        if grant.part_number is None:
            fields = ["u", grant.component_id, _text(grant.size), grant.checksum or ""]
        else:
            fields = ["p", grant.component_id, grant.upload or "", str(grant.part_number)]
            fields.append(_text(grant.size))
        return self._seal([*fields, str(grant.expires)])

    def check(self, token: str, component_id: str) -> UploadGrant:
        """The grant a token carries.

        Raises:
            RequestError: If the token is malformed, forged, expired or for another component.
        """
        fields = self._unseal(token, "The upload token is not valid.")
        try:
            if fields[0] == "u" and len(fields) == 5:
                _, identifier, size, checksum, expires = fields
                grant = UploadGrant(identifier, _number(size), checksum or None, int(expires))
            elif fields[0] == "p" and len(fields) == 6:
                _, identifier, key, part, size, expires = fields
                grant = UploadGrant(identifier, _number(size), None, int(expires), key, int(part))
            else:
                raise ValueError(fields[0])
        except ValueError:
            raise RequestError("The upload token is not valid.") from None
        if grant.component_id != component_id:
            raise RequestError("The upload token is for another component.")
        if grant.expires < time.time():
            raise RequestError("The upload token has expired; ask for new upload metadata.")
        return grant

    def sign_upload(self, upload: MultipartUpload) -> str:
        """The ``upload_id`` that stands for ``upload``."""
        return self._seal(
            [
                "m",
                upload.component_id,
                str(upload.parts),
                _text(upload.size),
                upload.checksum or "",
                str(upload.expires),
                upload.key,
            ]
        )

    def check_upload(self, upload_id: str, component_id: str) -> MultipartUpload:
        """The multi-part upload an ``upload_id`` stands for.

        Raises:
            RequestError: If the id is malformed, forged, expired or for another component.
        """
        fields = self._unseal(upload_id, "The upload id is not valid.")
        try:
            if fields[0] != "m" or len(fields) != 7:
                raise ValueError(fields[0])
            _, identifier, parts, size, checksum, expires, key = fields
            upload = MultipartUpload(
                identifier, int(parts), _number(size), checksum or None, int(expires), key
            )
        except ValueError:
            raise RequestError("The upload id is not valid.") from None
        if upload.component_id != component_id:
            raise RequestError(f"The upload id is for another component, not {component_id!r}.")
        if upload.expires < time.time():
            raise RequestError("The upload has expired; ask for new upload metadata.")
        return upload

    def _seal(self, fields: Sequence[str]) -> str:
        if any("|" in field for field in fields):
            raise ValueError(f"signed fields may not contain '|': {fields!r}")
        text = "|".join(fields).encode()
        mac = hmac.new(self._secret, text, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(text + b"|" + mac).decode().rstrip("=")

    def _unseal(self, token: str, message: str) -> list[str]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            text, mac = raw[:-33], raw[-32:]
            if raw[-33:-32] != b"|":
                raise ValueError(token)
            expected = hmac.new(self._secret, text, hashlib.sha256).digest()
            if not hmac.compare_digest(mac, expected):
                raise ValueError(token)
            return text.decode().split("|")
        except (ValueError, UnicodeDecodeError):
            raise RequestError(message) from None


class FileStore:
    """Component data on the server's disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"FileStore(root={str(self.root)!r})"

    def path(self, component_id: str) -> Path:
        """Where a component's data lives.

        Raises:
            RequestError: If the id could name something outside the store.
        """
        if not COMPONENT_ID.fullmatch(component_id):
            raise RequestError(f"{component_id!r} is not a component id.")
        return self.root / component_id[:2] / component_id[2:4] / component_id

    def exists(self, component_id: str) -> bool:
        """True when the component's data is stored."""
        return self.path(component_id).is_file()

    async def write(self, grant: UploadGrant, chunks: AsyncIterator[bytes], md5: str | None) -> int:
        """Store an upload; return its size.

        Raises:
            RequestError: If the data does not match the expected size or checksum; nothing
                is kept then.
        """
        target = self.path(grant.component_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        with _partial_beside(target) as partial:
            size, digest = await _receive(partial, chunks, grant.size)
            if grant.size is not None and size != grant.size:
                raise RequestError(
                    f"Upload of {grant.component_id} is incomplete: {grant.size} bytes "
                    f"expected, {size} received."
                )
            checksum = base64.b64encode(digest).decode()
            for expected in (md5, grant.checksum):
                if expected and expected != checksum:
                    raise RequestError(
                        f"Upload of {grant.component_id} is corrupt: Content-MD5 {expected} "
                        f"expected, {checksum} received."
                    )
            os.replace(partial, target)
        self._forget_thumbnails(grant.component_id)
        return size

    # Multi-part uploads ------------------------------------------------------------------

    def start_upload(
        self, component_id: str, parts: int, size: int | None, checksum: str | None
    ) -> MultipartUpload:
        """A new multi-part upload of ``parts`` parts; expired ones left behind are removed.

        Raises:
            RequestError: If the component id is not safe or ``parts`` is out of range.
        """
        self.path(component_id)
        if not 1 <= parts <= MAX_PARTS:
            raise RequestError(f"'parts' must be between 1 and {MAX_PARTS}, got {parts}.")
        self._remove_expired_uploads()
        expires = int(time.time()) + UPLOAD_SECONDS
        key = secrets.token_hex(12)
        return MultipartUpload(component_id, parts, size, checksum, expires, key)

    async def write_part(
        self, grant: UploadGrant, chunks: AsyncIterator[bytes], md5: str | None
    ) -> str:
        """Store one part of a multi-part upload; return its ETag (the part's hex MD5).

        Raises:
            RequestError: If the part is larger than the whole file, does not match its
                Content-MD5, or the upload was completed meanwhile; nothing is kept then.
        """
        assert grant.upload is not None and grant.part_number is not None
        staging = self.root / _STAGING / f"{grant.expires}-{grant.upload}"
        staging.mkdir(parents=True, exist_ok=True)
        name = _part_name(grant.part_number)
        with _partial_beside(staging / name) as partial:
            size, digest = await _receive(partial, chunks, grant.size)
            if md5 and md5 != base64.b64encode(digest).decode():
                raise RequestError(
                    f"Part {grant.part_number} of {grant.component_id} is corrupt: Content-MD5 "
                    f"{md5} expected, {base64.b64encode(digest).decode()} received."
                )
            # The ETag travels in the name, so that the part and its checksum appear together.
            target = staging / f"{name}.{digest.hex()}"
            try:
                os.replace(partial, target)
            except FileNotFoundError:
                raise RequestError(
                    f"The upload of {grant.component_id} was completed or aborted while part "
                    f"{grant.part_number} was sent."
                ) from None
        for earlier in staging.glob(f"{name}.*"):
            if earlier != target:  # the same part sent again: the last one counts
                earlier.unlink(missing_ok=True)
        logger.debug("stored part %d (%d bytes) of %s", grant.part_number, size, grant.upload)
        return digest.hex()

    def complete_upload(self, upload: MultipartUpload, listed: Sequence[tuple[int, str]]) -> int:
        """Assemble the parts of ``upload`` into the component's file; return its size.

        ``listed`` holds the client's ``(part_number, e_tag)`` pairs. Whatever the outcome,
        the parts are removed afterwards: a failed completion aborts the upload.

        Raises:
            RequestError: If the upload is unknown or already completed, a part is missing,
                listed twice or out of range, an ETag does not match, or the size or checksum
                differs from the one announced; no component file is written then.
        """
        staging = self.root / _STAGING / f"{upload.expires}-{upload.key}"
        claimed = staging.with_name(f"{staging.name}.completing-{uuid.uuid4().hex}")
        try:
            # Renaming claims the parts: a concurrent completion finds nothing to assemble.
            os.rename(staging, claimed)
        except FileNotFoundError:
            raise RequestError(
                f"The upload of {upload.component_id} has no parts on the server: it was "
                "completed or aborted already, or no part was sent."
            ) from None
        try:
            etags = _check_listed_parts(upload, listed)
            paths = _stored_parts(upload, claimed, etags)
            total = sum(path.stat().st_size for path in paths)
            if upload.size is not None and total != upload.size:
                raise RequestError(
                    f"Upload of {upload.component_id} is incomplete: {upload.size} bytes "
                    f"expected, {total} received in {upload.parts} parts."
                )
            target = self.path(upload.component_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            with _partial_beside(target) as partial:
                _assemble(upload, paths, partial)
                os.replace(partial, target)
        finally:
            shutil.rmtree(claimed, ignore_errors=True)
        self._forget_thumbnails(upload.component_id)
        logger.info("assembled %d parts (%d bytes) of %s", upload.parts, total, target.name)
        return total

    def _remove_expired_uploads(self) -> None:
        folder = self.root / _STAGING
        if not folder.is_dir():
            return
        now = time.time()
        for entry in os.scandir(folder):
            expires, _, _ = entry.name.partition("-")
            if expires.isdigit() and int(expires) < now:
                logger.info("removing the parts of expired upload %s", entry.name)
                shutil.rmtree(entry.path, ignore_errors=True)

    # Thumbnails ---------------------------------------------------------------------------

    def thumbnail(self, component_id: str, size: int) -> Thumbnail:
        """The component's image fitted into ``size`` x ``size``, cached per size.

        An image that already fits, in a format browsers show, is served as stored.

        Raises:
            EntityNotFoundError: If the component has no data here.
            RequestError: If the data is not an image Pillow can read, or is too large.
        """
        source = self.path(component_id)
        try:
            stored = source.stat()
        except FileNotFoundError:
            raise EntityNotFoundError("ComponentData", (component_id,)) from None
        folder = self.root / _THUMBNAILS / component_id[:2]
        for cached in folder.glob(f"{component_id}.{size}.*"):
            # Older than the data means the data was replaced since: render again.
            if cached.stat().st_mtime_ns >= stored.st_mtime_ns:
                return Thumbnail(cached, _SUFFIX_TYPES[cached.suffix])
        folder.mkdir(parents=True, exist_ok=True)
        return _render_thumbnail(component_id, source, size, folder)

    def _forget_thumbnails(self, component_id: str) -> None:
        for cached in (self.root / _THUMBNAILS / component_id[:2]).glob(f"{component_id}.*"):
            cached.unlink(missing_ok=True)

    def remove(self, component_id: str) -> bool:
        """Delete a component's data and its cached thumbnails; True when there was some."""
        path = self.path(component_id)
        if not path.is_file():
            return False
        path.unlink()
        self._forget_thumbnails(component_id)
        return True


@contextlib.contextmanager
def _partial_beside(target: Path) -> Iterator[Path]:
    """A temporary name beside ``target``, removed afterwards unless renamed."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


async def _receive(
    partial: Path, chunks: AsyncIterator[bytes], limit: int | None
) -> tuple[int, bytes]:
    """Stream ``chunks`` into ``partial``; return the byte count and the MD5 digest.

    Raises:
        RequestError: As soon as more than ``limit`` bytes arrive (a full disk is not waited
            for).
    """
    digest, size = hashlib.md5(), 0
    with partial.open("wb") as handle:
        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            if limit is not None and size > limit:
                raise RequestError(
                    f"The upload is larger than announced: more than {limit} bytes arrived."
                )
            handle.write(chunk)
    return size, digest.digest()


def _check_listed_parts(upload: MultipartUpload, listed: Sequence[tuple[int, str]]) -> list[str]:
    """The ETags of parts 1 to ``upload.parts``, in order, from the client's list.

    Raises:
        RequestError: If a part number is out of range, listed twice or missing.
    """
    etags: dict[int, str] = {}
    for number, etag in listed:
        if not 1 <= number <= upload.parts:
            raise RequestError(
                f"Part number {number} is not one of this upload's parts (1 to "
                f"{upload.parts}); the upload is aborted."
            )
        if number in etags:
            raise RequestError(f"Part {number} is listed twice; the upload is aborted.")
        etags[number] = etag.strip('"').lower()
    for number in range(1, upload.parts + 1):
        if number not in etags:
            raise RequestError(
                f"Part {number} of {upload.parts} is missing from the completion; the upload "
                "is aborted."
            )
    return [etags[number] for number in range(1, upload.parts + 1)]


def _stored_parts(upload: MultipartUpload, folder: Path, etags: Sequence[str]) -> list[Path]:
    """The files of parts 1 to ``upload.parts``, each checked against the client's ETag.

    Raises:
        RequestError: If a part was never uploaded or its ETag differs from the one listed.
    """
    stored: dict[int, Path] = {}
    for path in folder.iterdir():
        prefix = path.name.partition(".")[0]
        if prefix.isdigit():
            stored[int(prefix)] = path
    paths = []
    for number, etag in enumerate(etags, 1):
        found = stored.get(number)
        if found is None:
            raise RequestError(
                f"Part {number} of {upload.parts} of {upload.component_id} was never "
                "uploaded; the upload is aborted."
            )
        received = found.name.partition(".")[2]
        if received != etag:
            raise RequestError(
                f"Part {number} of {upload.component_id} does not match its ETag: "
                f"{etag!r} listed, {received!r} stored; the upload is aborted."
            )
        paths.append(found)
    return paths


def _assemble(upload: MultipartUpload, paths: Sequence[Path], out: Path) -> None:
    """Concatenate the parts into ``out``; check the whole file's MD5 when one was given.

    Without a checksum to check, the kernel copies the bytes (``copy_file_range``), so a
    large file is assembled without passing through Python.

    Raises:
        RequestError: If the whole file's MD5 differs from the announced checksum.
    """
    whole = hashlib.md5() if upload.checksum else None
    with out.open("wb") as handle:
        for path in paths:
            with path.open("rb") as source:
                if whole is None and hasattr(os, "copy_file_range"):
                    _copy_range(source.fileno(), handle.fileno(), path.stat().st_size)
                    continue
                while chunk := source.read(CHUNK_SIZE):
                    if whole is not None:
                        whole.update(chunk)
                    handle.write(chunk)
    if whole is None:
        return
    checksum = base64.b64encode(whole.digest()).decode()
    if upload.checksum != checksum:
        raise RequestError(
            f"Upload of {upload.component_id} is corrupt: Content-MD5 {upload.checksum} "
            f"expected, {checksum} received."
        )


def _copy_range(source: int, target: int, size: int) -> None:
    """Append ``size`` bytes of ``source`` to ``target`` in the kernel."""
    while size > 0:
        copied = os.copy_file_range(source, target, min(size, 1 << 30))
        if copied == 0:
            raise RequestError("A stored part changed while the upload was assembled.")
        size -= copied


def _render_thumbnail(component_id: str, source: Path, size: int, folder: Path) -> Thumbnail:
    """Fit the image at ``source`` into ``size`` x ``size`` and cache it in ``folder``.

    Images with transparency become PNG, others JPEG.

    Raises:
        RequestError: If ``source`` is not an image Pillow can decode, or is too large.
    """
    try:
        with Image.open(source) as image:
            fits = image.width <= size and image.height <= size
            if fits and image.format in WEB_IMAGE_TYPES:
                return Thumbnail(source, WEB_IMAGE_TYPES[image.format])
            # Resize first: a JPEG then decodes at a reduced scale. A 90-degree turn from the
            # EXIF orientation keeps the result inside the square.
            image.thumbnail((size, size), Image.Resampling.LANCZOS)
            fitted = ImageOps.exif_transpose(image)
            has_alpha = fitted.mode in ("RGBA", "LA", "PA") or "transparency" in fitted.info
            converted = fitted.convert("RGBA" if has_alpha else "RGB")
    except Image.DecompressionBombError as error:
        raise RequestError(
            f"Component {component_id} is too large an image to make a thumbnail of: {error}"
        ) from None
    except UnidentifiedImageError:
        raise RequestError(
            f"Component {component_id} is not an image this server can read, so it has no "
            f"thumbnail of size {size}; ask without 'size' for the data as stored."
        ) from None
    except (OSError, ValueError, SyntaxError) as error:
        # Pillow reports broken data and modes it cannot convert with any of these.
        raise RequestError(
            f"Component {component_id} is an image this server cannot make a thumbnail of: {error}"
        ) from None
    target = folder / f"{component_id}.{size}.{'png' if has_alpha else 'jpg'}"
    with _partial_beside(target) as partial:
        if has_alpha:
            converted.save(partial, "PNG", optimize=True)
        else:
            converted.save(partial, "JPEG", quality=85, optimize=True)
        os.replace(partial, target)
    return Thumbnail(target, _SUFFIX_TYPES[target.suffix])


def _part_name(number: int) -> str:
    return f"{number:05d}"


def _text(number: int | None) -> str:
    return "" if number is None else str(number)


def _number(text: str) -> int | None:
    return int(text) if text else None
