"""Pipelined SFTP file objects and asyncssh error translation for the SFTP accessor.

Reads and writes keep a window of requests in flight (each request itself split by asyncssh
into parallel SFTP packets), so throughput is bounded by bandwidth, not by round trips, while
memory stays bounded by ``chunk_size * window``.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
from typing import TYPE_CHECKING

import asyncssh

from shotbase.errors import (
    AccessorConnectionError,
    AccessorContainerNotEmptyError,
    AccessorError,
    AccessorPermissionDeniedError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
)
from shotbase.storage.accessor._loop import LoopThread
from shotbase.storage.accessor.base import ResourceReader, TemporaryFileWriter

if TYPE_CHECKING:
    from asyncssh import SFTPClient, SFTPClientFile

__all__ = [
    "SFTPReader",
    "SFTPWriter",
    "close_quietly",
    "discard_remote",
    "error_from_sftp",
    "publish_remote",
]

logger = logging.getLogger(__name__)

_NOT_FOUND = {asyncssh.FX_NO_SUCH_FILE, asyncssh.FX_NO_SUCH_PATH}
_PERMISSION = {asyncssh.FX_PERMISSION_DENIED, asyncssh.FX_WRITE_PROTECT}
_INVALID = {
    asyncssh.FX_FILE_ALREADY_EXISTS,
    asyncssh.FX_NOT_A_DIRECTORY,
    asyncssh.FX_FILE_IS_A_DIRECTORY,
    asyncssh.FX_INVALID_FILENAME,
}


def error_from_sftp(error: Exception, resource_identifier: str, operation: str) -> AccessorError:
    """Translate an asyncssh or socket error into an accessor error.

    Args:
        error: What asyncssh raised.
        resource_identifier: The resource the operation concerned.
        operation: What was being done, e.g. ``"open"``, for the message.
    Returns:
        The accessor error to raise ``from error``.
    """
    if isinstance(error, AccessorError):
        return error
    if isinstance(error, asyncssh.SFTPError):
        message = f"cannot {operation} {resource_identifier!r}: {error.reason or 'failure'}"
        if error.code in _NOT_FOUND:
            return AccessorResourceNotFoundError(message, resource_identifier)
        if error.code in _PERMISSION:
            return AccessorPermissionDeniedError(message, resource_identifier)
        if error.code == asyncssh.FX_DIR_NOT_EMPTY:
            return AccessorContainerNotEmptyError(message, resource_identifier)
        if error.code in _INVALID:
            return AccessorResourceInvalidError(message, resource_identifier)
        if error.code == asyncssh.FX_CONNECTION_LOST:
            return AccessorConnectionError(message, resource_identifier)
        return AccessorTransferFailedError(message, resource_identifier)
    if isinstance(error, (asyncssh.Error, OSError, TimeoutError)):
        return AccessorConnectionError(
            f"cannot {operation} {resource_identifier!r}: SFTP connection failed: {error}",
            resource_identifier,
        )
    return AccessorTransferFailedError(
        f"cannot {operation} {resource_identifier!r}: {error}", resource_identifier
    )


async def discard_remote(sftp: SFTPClient, handle: SFTPClientFile, temporary: str) -> None:
    """Close a remote file and remove the partial temporary file, ignoring failures."""
    try:
        await handle.close()
    except (asyncssh.Error, OSError):
        logger.debug("closing remote file %s failed", temporary, exc_info=True)
    try:
        await sftp.remove(temporary)
    except asyncssh.SFTPNoSuchFile:
        pass
    except (asyncssh.Error, OSError):
        logger.warning("could not remove partial remote file %s", temporary, exc_info=True)


async def publish_remote(
    sftp: SFTPClient,
    handle: SFTPClientFile,
    temporary: str,
    target: str,
    written: int,
    resource_identifier: str,
) -> None:
    """Close a fully written temporary file, check its size and rename it over ``target``.

    The size query and the close go out together (the server answers them in order); the
    rename waits for the size to be checked, so a short file is never published.

    Raises:
        AccessorTransferFailedError: If the server holds another number of bytes.
        asyncssh.SFTPError: If the server refuses the rename.
    """
    attributes, _ = await asyncio.gather(handle.stat(), handle.close())
    if attributes.size != written:
        raise AccessorTransferFailedError(
            f"wrote {written} bytes to {resource_identifier!r} but the server holds"
            f" {attributes.size}",
            resource_identifier,
        )
    try:
        await sftp.posix_rename(temporary, target)
    except asyncssh.SFTPOpUnsupported:
        # Without the OpenSSH extension, plain SFTP rename refuses to replace a file.
        if await sftp.exists(target):
            await sftp.remove(target)
        await sftp.rename(temporary, target)


async def close_quietly(handle: SFTPClientFile, resource_identifier: str) -> None:
    """Close a remote file opened for reading; a failure is only logged."""
    try:
        await handle.close()
    except (asyncssh.Error, OSError):
        logger.debug("closing %s failed", resource_identifier, exc_info=True)


def _discard_in_background(
    loop: LoopThread, sftp: SFTPClient, handle: SFTPClientFile, temporary: str
) -> None:
    """Run :func:`discard_remote` without waiting (for writers dropped unclosed)."""
    loop.submit(discard_remote(sftp, handle, temporary))


class SFTPWriter(TemporaryFileWriter):
    """Write to a remote temporary file with many writes in flight; rename on close.

    Args:
        loop: The loop thread running the connection.
        sftp: The SFTP session.
        handle: The open temporary file.
        temporary: Remote path of the temporary file.
        target: Remote path to rename it to.
        resource_identifier: The identifier, for error messages.
        chunk_size: Bytes per write request.
        window: Write requests kept in flight.
    """

    def __init__(
        self,
        loop: LoopThread,
        sftp: SFTPClient,
        handle: SFTPClientFile,
        temporary: str,
        target: str,
        resource_identifier: str,
        chunk_size: int,
        window: int,
    ) -> None:
        self._loop, self._sftp, self._handle = loop, sftp, handle
        self.temporary, self.target = temporary, target
        self.resource_identifier = resource_identifier
        self._chunk_size, self._window = chunk_size, window
        self._buffer = bytearray()
        self._offset = 0
        self._pending: collections.deque[concurrent.futures.Future[None]] = collections.deque()
        super().__init__(_discard_in_background, loop, sftp, handle, temporary)

    def __repr__(self) -> str:
        return f"SFTPWriter(target={self.target!r}, written={self._offset + len(self._buffer)})"

    def write(self, data: bytes, /) -> int:
        """Queue ``data``; full chunks are sent at once, without waiting for the reply.

        Raises:
            AccessorTransferFailedError: If an earlier write failed (disk full, I/O error).
            AccessorPermissionDeniedError: If the server refused a write.
        """
        self._check_open()
        count = len(data)
        if not self._buffer and count == self._chunk_size:
            self._send(bytes(data))
            return count
        self._buffer += data
        while len(self._buffer) >= self._chunk_size:
            chunk = bytes(self._buffer[: self._chunk_size])
            del self._buffer[: self._chunk_size]
            self._send(chunk)
        return count

    def _send(self, chunk: bytes) -> None:
        future = self._loop.submit(self._write_chunk(chunk, self._offset))
        self._offset += len(chunk)
        self._pending.append(future)
        while len(self._pending) > self._window:
            self._wait(self._pending.popleft())

    async def _write_chunk(self, chunk: bytes, offset: int) -> None:
        await self._handle.write(chunk, offset)

    def _wait(self, future: concurrent.futures.Future[None]) -> None:
        try:
            future.result()
        except Exception as error:
            self.abort()
            raise error_from_sftp(error, self.resource_identifier, "write") from error

    def flush(self) -> None:
        """Send buffered data and wait until every write is acknowledged."""
        self._check_open()
        if self._buffer:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            self._send(chunk)
        while self._pending:
            self._wait(self._pending.popleft())

    def close(self) -> None:
        """Finish the writes, verify the byte count and rename over the target.

        Raises:
            AccessorTransferFailedError: If the server holds a different number of bytes.
            AccessorPermissionDeniedError: If the rename is refused.
        """
        if not self._finalizer.alive:
            return
        if self._buffer:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            self._send(chunk)
        try:
            # One trip to the loop: the last acknowledgements, the size check and the rename.
            self._loop.run(self._finish(list(self._pending)))
        except Exception as error:
            self.abort()
            raise error_from_sftp(error, self.resource_identifier, "write") from error
        self._pending.clear()
        self._finalizer.detach()

    async def _finish(self, pending: list[concurrent.futures.Future[None]]) -> None:
        await asyncio.gather(*(asyncio.wrap_future(future) for future in pending))
        await publish_remote(
            self._sftp,
            self._handle,
            self.temporary,
            self.target,
            self._offset,
            self.resource_identifier,
        )

    def abort(self) -> None:
        """Stop writing and remove the partial remote file; the target is left untouched."""
        if not self._finalizer.alive:
            return
        self._finalizer.detach()
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._buffer.clear()
        try:
            self._loop.run(discard_remote(self._sftp, self._handle, self.temporary), 60)
        except (concurrent.futures.TimeoutError, RuntimeError):
            logger.warning("could not remove partial remote file %s", self.temporary)


class SFTPReader(ResourceReader):
    """Read a remote file with a window of read-ahead requests in flight.

    The size is taken when the file is opened; reading verifies that exactly that many bytes
    arrive.

    Args:
        loop: The loop thread running the connection.
        handle: The open remote file.
        size: The file's size when it was opened.
        resource_identifier: The identifier, for error messages.
        chunk_size: Bytes per read request.
        window: Read requests kept in flight.
        first: The start of the file, already read when it was opened.
    """

    def __init__(
        self,
        loop: LoopThread,
        handle: SFTPClientFile,
        size: int,
        resource_identifier: str,
        chunk_size: int,
        window: int,
        first: bytes = b"",
    ) -> None:
        self._loop, self._handle, self.size = loop, handle, size
        self.resource_identifier = resource_identifier
        self._chunk_size, self._window = chunk_size, window
        self._requested = len(first)
        self._position = 0
        self._current = first
        self._pending: collections.deque[concurrent.futures.Future[bytes]] = collections.deque()
        self._closed = False
        self._fill()

    def __repr__(self) -> str:
        return f"SFTPReader(resource_identifier={self.resource_identifier!r}, size={self.size})"

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        return self._closed

    def _fill(self) -> None:
        while len(self._pending) < self._window and self._requested < self.size:
            length = min(self._chunk_size, self.size - self._requested)
            self._pending.append(self._loop.submit(self._read_chunk(length, self._requested)))
            self._requested += length

    async def _read_chunk(self, length: int, offset: int) -> bytes:
        data: bytes = await self._handle.read(length, offset)
        if len(data) != length:
            raise AccessorTransferFailedError(
                f"expected {length} bytes at offset {offset} of {self.resource_identifier!r},"
                f" got {len(data)}; the file changed while it was read",
                self.resource_identifier,
            )
        return data

    def _next_chunk(self) -> bytes:
        if not self._pending:
            return b""
        future = self._pending.popleft()
        try:
            chunk = future.result()
        except Exception as error:
            self.close()
            raise error_from_sftp(error, self.resource_identifier, "read") from error
        self._fill()
        return chunk

    def read(self, size: int | None = -1, /) -> bytes:
        """Return up to ``size`` bytes (everything left when negative or None).

        Raises:
            AccessorTransferFailedError: If the file changed size while being read.
            AccessorConnectionError: If the connection dropped.
        """
        if self._closed:
            raise ValueError("I/O operation on a closed file")
        wanted = self.size - self._position if size is None or size < 0 else size
        pieces: list[bytes] = []
        remaining = wanted
        while remaining > 0:
            if not self._current:
                self._current = self._next_chunk()
                if not self._current:
                    break
            piece = self._current[:remaining]
            self._current = self._current[len(piece) :]
            pieces.append(piece)
            remaining -= len(piece)
        # A whole chunk is handed over as is (bytes slicing returns the same object).
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._position += len(data)
        return data

    def close(self) -> None:
        """Drop the read-ahead and close the remote file."""
        if self._closed:
            return
        self._closed = True
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._current = b""
        # Nothing depends on the answer: the close is sent without waiting for it.
        self._loop.submit(close_quietly(self._handle, self.resource_identifier))
