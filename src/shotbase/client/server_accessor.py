"""The server store as an accessor: component data kept by the shotbase (or ftrack) server.

Resource identifiers are component ids (see ``EntityIdStructure``). Writes are spooled to a
temporary file (in memory up to 8 MiB) while their MD5 is computed, then uploaded in one
streamed ``PUT`` to the signed URL ``get_upload_metadata`` returns; the server checks the
``Content-MD5`` and the byte count before it keeps the data. Reads stream ``/component/get``.
Every request goes through the session's transport, so ``Session.local`` works without a port.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from shotbase.errors import (
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
    AccessorUnsupportedOperationError,
    ShotbaseError,
)
from shotbase.storage.accessor.base import Accessor, ResourceFile, TransferFile

if TYPE_CHECKING:
    from shotbase.client.session import Session
    from shotbase.client.transport import StreamedResponse

__all__ = ["ServerAccessor"]

SPOOL_IN_MEMORY = 8 << 20
CHUNK = 1 << 20


class ServerAccessor(Accessor):
    """Component data in the server store, addressed by component id."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __repr__(self) -> str:
        return f"ServerAccessor(server_url={self.session.server_url!r})"

    # Requests -----------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {"ftrack-user": self.session.api_user, "ftrack-api-key": self.session.api_key}

    def _get(self, route: str, resource_identifier: str, method: str = "GET") -> StreamedResponse:
        _check_id(resource_identifier)
        query = urlencode({"id": resource_identifier})
        return self.session._transport.stream(
            method, f"/component/{route}?{query}", self._auth_headers()
        )

    # Accessor interface ------------------------------------------------------------------

    def exists(self, resource_identifier: str) -> bool:
        """Return whether the server holds data for the component ``resource_identifier``."""
        with self._get("get", resource_identifier, method="HEAD") as response:
            return response.status_code == 200

    def is_file(self, resource_identifier: str) -> bool:
        """Return whether the server holds data for ``resource_identifier`` (always a file)."""
        return self.exists(resource_identifier)

    def is_container(self, resource_identifier: str) -> bool:
        """Always False: the server store is flat."""
        return False

    def is_sequence(self, resource_identifier: str) -> bool:
        """Always False: sequence members are stored one by one."""
        return False

    def list(self, resource_identifier: str) -> list[str]:
        """Not supported: the server store cannot be listed.

        Raises:
            AccessorUnsupportedOperationError: Always.
        """
        raise AccessorUnsupportedOperationError(
            "the server store cannot be listed", resource_identifier
        )

    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        """Nothing to do: the server store has no containers."""

    def get_container(self, resource_identifier: str) -> str:
        """The (only) container: ``""``."""
        return ""

    def open(self, resource_identifier: str, mode: str = "rb") -> ResourceFile:
        """Open the component's data for streaming.

        Raises:
            ValueError: If ``mode`` is not ``"rb"`` or ``"wb"``.
            AccessorResourceNotFoundError: If reading data the server does not have.
        """
        _check_id(resource_identifier)
        if mode in ("r", "rb"):
            response = self._get("get", resource_identifier)
            _raise_for_status(response, resource_identifier, "read")
            return _ServerReader(response, resource_identifier)
        if mode in ("w", "wb"):
            return _ServerWriter(self, resource_identifier)
        raise ValueError(f"expected mode 'rb' or 'wb', got {mode!r}")

    def remove(self, resource_identifier: str) -> None:
        """Delete the component's data from the server.

        Raises:
            AccessorResourceNotFoundError: If the server has no data for it.
        """
        with self._get("remove", resource_identifier) as response:
            _raise_for_status(response, resource_identifier, "remove")

    def get_url(self, resource_identifier: str) -> str:
        """The download URL, with the credentials in the query as ftrack clients build it.

        The URL carries this session's API key: hand it only to the user's own tools.
        """
        _check_id(resource_identifier)
        query = urlencode(
            {
                "id": resource_identifier,
                "username": self.session.api_user,
                "apiKey": self.session.api_key,
            }
        )
        return f"{self.session.server_url}/component/get?{query}"

    def get_thumbnail_url(self, resource_identifier: str, size: int | None = None) -> str:
        """The thumbnail URL, optionally scaled to fit ``size`` x ``size`` pixels."""
        url = self.get_url(resource_identifier).replace("/component/get?", "/component/thumbnail?")
        return f"{url}&size={int(size)}" if size else url

    def get_filesystem_path(self, resource_identifier: str) -> str:
        """Not supported: server data has no path on this machine.

        Raises:
            AccessorUnsupportedOperationError: Always.
        """
        raise AccessorUnsupportedOperationError(
            "data in the server store has no file system path", resource_identifier
        )

    # Upload ------------------------------------------------------------------------------

    def upload(self, resource_identifier: str, spool: Any, size: int, checksum: str) -> None:
        """PUT ``size`` bytes from ``spool`` (positioned at 0) as the component's data.

        Raises:
            AccessorTransferFailedError: If the server refuses or the upload breaks off.
        """
        try:
            metadata = self.session.get_upload_metadata(
                component_id=resource_identifier,
                file_name=self._file_name(resource_identifier),
                file_size=size,
                checksum=checksum,
            )
            headers = dict(metadata["headers"])
            with self.session._transport.stream("PUT", metadata["url"], headers, spool) as answer:
                _raise_for_status(answer, resource_identifier, "upload")
        except AccessorTransferFailedError:
            raise
        except ShotbaseError as error:
            raise AccessorTransferFailedError(
                f"cannot upload {resource_identifier!r}: {error}", resource_identifier
            ) from error

    def _file_name(self, component_id: str) -> str:
        component = self.session.get("Component", component_id)
        if component is None:
            return component_id
        name = str(component["name"] or component_id)
        file_type = component["file_type"]
        return f"{name}.{file_type.lstrip('.')}" if file_type else name


def _check_id(resource_identifier: str) -> None:
    if not isinstance(resource_identifier, str) or not resource_identifier.strip():
        raise AccessorResourceInvalidError(
            f"expected a component id, got {resource_identifier!r}", None
        )


def _raise_for_status(response: StreamedResponse, resource_identifier: str, action: str) -> None:
    if response.status_code < 400:
        return
    detail = response.read()[:500].decode("utf-8", "replace")
    response.close()
    message = f"cannot {action} {resource_identifier!r}: HTTP {response.status_code} {detail}"
    if response.status_code == 404:
        raise AccessorResourceNotFoundError(message, resource_identifier)
    raise AccessorTransferFailedError(message, resource_identifier)


class _ServerReader(TransferFile):
    """Streams one download; fails if fewer bytes arrive than the server announced."""

    def __init__(self, response: StreamedResponse, resource_identifier: str) -> None:
        self._response = response
        self._chunks: Iterator[bytes] = response.iter_bytes()
        self._buffer = b""
        self._received = 0
        length = response.headers.get("content-length")
        self._expected = int(length) if length and length.isdigit() else None
        self.resource_identifier = resource_identifier
        self._closed = False

    def __repr__(self) -> str:
        return f"_ServerReader({self.resource_identifier!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    def read(self, size: int | None = -1, /) -> bytes:
        whole = size is None or size < 0
        while whole or len(self._buffer) < int(size or 0):
            chunk = next(self._chunks, None)
            if chunk is None:
                self._check_complete()
                break
            self._received += len(chunk)
            self._buffer += chunk
        if whole:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[: int(size or 0)], self._buffer[int(size or 0) :]
        return data

    def _check_complete(self) -> None:
        if self._expected is not None and self._received != self._expected:
            raise AccessorTransferFailedError(
                f"download of {self.resource_identifier!r} ended after {self._received} of"
                f" {self._expected} bytes",
                self.resource_identifier,
            )

    def write(self, data: bytes, /) -> int:
        raise OSError("file opened for reading")

    def flush(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        self._closed = True
        self._response.close()


class _ServerWriter(TransferFile):
    """Spools what is written, then uploads it on close (nothing is stored on failure)."""

    def __init__(self, accessor: ServerAccessor, resource_identifier: str) -> None:
        self._accessor = accessor
        self.resource_identifier = resource_identifier
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._size = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"_ServerWriter({self.resource_identifier!r}, {self._size} bytes)"

    @property
    def closed(self) -> bool:
        return self._closed

    def read(self, size: int | None = -1, /) -> bytes:
        raise OSError("file opened for writing")

    def write(self, data: bytes, /) -> int:
        if self._closed:
            raise ValueError("write to a closed file")
        self._spool.write(data)
        self._md5.update(data)
        self._size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is sent before :meth:`close`."""

    def close(self) -> None:
        """Upload what was written; the spool is discarded either way."""
        if self._closed:
            return
        self._closed = True
        try:
            self._spool.seek(0)
            checksum = base64.b64encode(self._md5.digest()).decode("ascii")
            self._accessor.upload(self.resource_identifier, self._spool, self._size, checksum)
        finally:
            self._spool.close()

    def abort(self) -> None:
        """Discard what was written; nothing is uploaded."""
        self._closed = True
        self._spool.close()
