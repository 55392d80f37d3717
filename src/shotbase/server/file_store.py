"""The server's own store for component data (the ``ftrack.server`` location).

Files live under ``<data>/files/<aa>/<bb>/<component id>``. Uploads stream to a temporary
name beside the final one, are checked (byte count, MD5) and renamed only when complete, so a
reader never sees a partial file. Upload URLs carry a signed, expiring token instead of
credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from shotbase.errors import RequestError

__all__ = ["FileStore", "UploadGrant", "UploadSigner"]

COMPONENT_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")
UPLOAD_SECONDS = 6 * 3600


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """What an upload token allows: one component's data, of this size and checksum."""

    component_id: str
    size: int | None
    checksum: str | None
    expires: int


class UploadSigner:
    """Signs and checks upload tokens with a secret kept in the data directory."""

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
        """The token for ``grant``."""
        text = "|".join(
            (grant.component_id, str(grant.size or ""), grant.checksum or "", str(grant.expires))
        )
        mac = hmac.new(self._secret, text.encode(), hashlib.sha256).digest()
        encoded = base64.urlsafe_b64encode(text.encode() + b"|" + mac).decode()
        return encoded.rstrip("=")

    def check(self, token: str, component_id: str) -> UploadGrant:
        """The grant a token carries.

        Raises:
            RequestError: If the token is malformed, forged, expired or for another component.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            text, mac = raw[:-33], raw[-32:]
            if raw[-33:-32] != b"|":
                raise ValueError(token)
            expected = hmac.new(self._secret, text, hashlib.sha256).digest()
            if not hmac.compare_digest(mac, expected):
                raise ValueError(token)
            identifier, size, checksum, expires = text.decode().split("|")
        except (ValueError, UnicodeDecodeError):
            raise RequestError("The upload token is not valid.") from None
        if identifier != component_id:
            raise RequestError("The upload token is for another component.")
        if int(expires) < time.time():
            raise RequestError("The upload token has expired; ask for new upload metadata.")
        return UploadGrant(identifier, int(size) if size else None, checksum or None, int(expires))


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
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        digest, size = hashlib.md5(), 0
        try:
            with partial.open("wb") as handle:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
            if grant.size is not None and size != grant.size:
                raise RequestError(
                    f"Upload of {grant.component_id} is incomplete: {grant.size} bytes "
                    f"expected, {size} received."
                )
            checksum = base64.b64encode(digest.digest()).decode()
            for expected in (md5, grant.checksum):
                if expected and expected != checksum:
                    raise RequestError(
                        f"Upload of {grant.component_id} is corrupt: Content-MD5 {expected} "
                        f"expected, {checksum} received."
                    )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return size

    def remove(self, component_id: str) -> bool:
        """Delete a component's data; True when there was some."""
        path = self.path(component_id)
        if not path.is_file():
            return False
        path.unlink()
        return True
