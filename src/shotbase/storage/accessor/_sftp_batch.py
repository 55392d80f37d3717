"""Many files up or down one SFTP session at once, for ``SFTPAccessor.put_files``/``get_files``.

One file at a time pays its round trips (open, fstat, close, rename) one after the other;
here several files are in flight, so one file's round trips overlap with the others' data.
Every file keeps the guarantees of a single ``open()``: uploads go to a temporary name, the
server's byte count is checked, and only then is the file renamed over its target; a
download lands under a temporary local name and is renamed once its size is checked. A
failed file leaves no partial file on either side.

Memory stays bounded: at most ``window`` chunks of ``chunk_size`` bytes are held across the
whole batch, whatever the number of files. Local file I/O runs in the loop's executor,
never on the event loop itself.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import posixpath
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

import asyncssh

from shotbase.errors import (
    AccessorParentResourceNotFoundError,
    AccessorResourceInvalidError,
    AccessorTransferFailedError,
)
from shotbase.storage.accessor._sftp_files import (
    close_quietly,
    discard_remote,
    error_from_sftp,
    publish_remote,
)
from shotbase.storage.accessor.base import LocalWriter, error_from_os, temporary_name

if TYPE_CHECKING:
    from asyncssh import SFTPClient, SFTPClientFile

__all__ = ["BatchSettings", "Confine", "FileJob", "get_files", "put_files", "run_jobs"]

logger = logging.getLogger(__name__)

Confine = Callable[[str, str], Awaitable[None]]
_CREATE_NEW = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL


@dataclass(frozen=True, slots=True)
class FileJob:
    """One file of a batch: its local path, its remote path and its resource identifier."""

    local: Path
    remote: str
    resource_identifier: str


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """How much a batch keeps in flight."""

    concurrency: int
    chunk_size: int
    window: int


async def run_jobs(
    jobs: Sequence[FileJob], concurrency: int, transfer: Callable[[FileJob], Awaitable[int]]
) -> int:
    """Run ``transfer`` on every job, ``concurrency`` at a time; return the bytes moved.

    After the first failure no new job starts; the jobs in flight finish (or clean up after
    themselves), then the first error is raised.
    """
    pending = iter(jobs)
    errors: list[Exception] = []
    moved = 0

    async def worker() -> None:
        nonlocal moved
        for job in pending:
            if errors:
                return
            try:
                count = await transfer(job)
            except Exception as error:  # noqa: BLE001 - re-raised below, once all have stopped
                errors.append(error)
                return
            moved += count  # not `moved += await ...`: that would read `moved` before waiting

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(jobs))))))
    if errors:
        raise errors[0]
    return moved


async def put_files(
    sftp: SFTPClient, jobs: Sequence[FileJob], settings: BatchSettings, confine: Confine
) -> int:
    """Upload local files; return the bytes sent.

    Each target folder is checked once (it exists, and resolves inside the root) before any
    data moves.

    Raises:
        AccessorError: For the first file that fails, naming it.
    """
    folders = sorted({posixpath.dirname(job.remote) for job in jobs})
    first = {posixpath.dirname(job.remote): job.resource_identifier for job in reversed(jobs)}
    await run_jobs(
        [FileJob(Path(), folder, first[folder]) for folder in folders],
        settings.concurrency,
        lambda job: _check_folder(sftp, job, confine),
    )
    budget = asyncio.Semaphore(settings.window)
    return await run_jobs(
        jobs, settings.concurrency, lambda job: _put_one(sftp, job, settings, budget)
    )


async def get_files(
    sftp: SFTPClient, jobs: Sequence[FileJob], settings: BatchSettings, confine: Confine
) -> int:
    """Download remote files to local paths; return the bytes received.

    Raises:
        AccessorError: For the first file that fails, naming it.
    """
    budget = asyncio.Semaphore(settings.window)
    return await run_jobs(
        jobs, settings.concurrency, lambda job: _get_one(sftp, job, settings, budget, confine)
    )


async def _check_folder(sftp: SFTPClient, job: FileJob, confine: Confine) -> int:
    is_folder, _ = await asyncio.gather(
        sftp.isdir(job.remote), confine(job.remote, job.resource_identifier)
    )
    if not is_folder:
        raise AccessorParentResourceNotFoundError(
            f"cannot write {job.resource_identifier!r}: its container does not exist",
            job.resource_identifier,
        )
    return 0


async def _put_one(
    sftp: SFTPClient, job: FileJob, settings: BatchSettings, budget: asyncio.Semaphore
) -> int:
    loop = asyncio.get_running_loop()
    folder, name = posixpath.split(job.remote)
    temporary = posixpath.join(folder, temporary_name(name))
    await budget.acquire()  # for the first chunk, read while the remote file opens
    source, handle = await asyncio.gather(
        loop.run_in_executor(None, _LocalSource.open, job, settings.chunk_size),
        sftp.open(temporary, _CREATE_NEW, encoding=None),
        return_exceptions=True,
    )
    if isinstance(handle, BaseException):
        budget.release()
        if not isinstance(source, BaseException):
            source.close()
        _reraise(handle, job, "write")
    if isinstance(source, BaseException):
        budget.release()
        await discard_remote(sftp, handle, temporary)
        raise source
    try:
        with source:
            sent = await _send(loop, source, handle, settings.chunk_size, budget)
        await publish_remote(sftp, handle, temporary, job.remote, sent, job.resource_identifier)
    except BaseException as error:
        await discard_remote(sftp, handle, temporary)
        _reraise(error, job, "write")
    return sent


class _LocalSource:
    """A local file being sent: its size when opened and the chunk read with the open."""

    def __init__(self, job: FileJob, handle: IO[bytes] | None, size: int, first: bytes) -> None:
        self.job, self._handle, self.size, self.first = job, handle, size, first

    def __repr__(self) -> str:
        return f"_LocalSource(local={os.fspath(self.job.local)!r}, size={self.size})"

    @classmethod
    def open(cls, job: FileJob, chunk_size: int) -> _LocalSource:
        """Open ``job.local`` and read its first chunk (all of a small file) in one go.

        Raises:
            AccessorResourceNotFoundError: If the local file does not exist.
        """
        try:
            handle = job.local.open("rb")
        except OSError as error:
            raise error_from_os(error, os.fspath(job.local), "read") from error
        source = cls(job, handle, os.fstat(handle.fileno()).st_size, b"")
        try:
            source.first = source.read(min(chunk_size, source.size))
        except BaseException:
            source.close()
            raise
        if len(source.first) == source.size:
            source.close()
        return source

    def read(self, length: int) -> bytes:
        """Exactly ``length`` bytes.

        Raises:
            AccessorTransferFailedError: If the file shrank or cannot be read.
        """
        assert self._handle is not None
        try:
            data = self._handle.read(length)
        except OSError as error:
            raise error_from_os(error, os.fspath(self.job.local), "read") from error
        if len(data) != length:
            raise AccessorTransferFailedError(
                f"{os.fspath(self.job.local)!r} changed while it was sent: {self.size} bytes"
                " when opened, fewer when read",
                self.job.resource_identifier,
            )
        return data

    def close(self) -> None:
        """Close the local file (if still open)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> _LocalSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _send(
    loop: asyncio.AbstractEventLoop,
    source: _LocalSource,
    handle: SFTPClientFile,
    chunk_size: int,
    budget: asyncio.Semaphore,
) -> int:
    """Write ``source`` to ``handle``, reading the next chunk while earlier writes fly.

    A chunk holds one unit of ``budget`` from before it is read until its write is
    acknowledged; the caller acquired the unit of ``source.first``.
    """
    writes: collections.deque[asyncio.Task[int]] = collections.deque()
    chunk, offset = source.first, 0
    if not chunk:
        budget.release()
    try:
        while chunk:
            write = asyncio.ensure_future(handle.write(chunk, offset))
            write.add_done_callback(lambda _: budget.release())
            writes.append(write)
            offset += len(chunk)
            while writes and writes[0].done():
                writes.popleft().result()
            if offset >= source.size:
                break
            await budget.acquire()
            try:
                length = min(chunk_size, source.size - offset)
                chunk = await loop.run_in_executor(None, source.read, length)
            except BaseException:
                budget.release()
                raise
        while writes:
            await writes.popleft()
    except BaseException:
        for write in writes:
            write.cancel()
        await asyncio.gather(*writes, return_exceptions=True)
        raise
    return offset


async def _get_one(
    sftp: SFTPClient,
    job: FileJob,
    settings: BatchSettings,
    budget: asyncio.Semaphore,
    confine: Confine,
) -> int:
    checked, opened = await asyncio.gather(
        confine(job.remote, job.resource_identifier),
        sftp.open(job.remote, "rb"),
        return_exceptions=True,
    )
    if isinstance(opened, BaseException):
        _reraise(checked if isinstance(checked, BaseException) else opened, job, "read")
    handle = opened
    target = _LocalTarget(job)
    try:
        if isinstance(checked, BaseException):
            raise checked
        await _receive(handle, target, job, settings.chunk_size, budget)
    except BaseException as error:
        await asyncio.get_running_loop().run_in_executor(None, target.discard)
        _reraise(error, job, "read")
    finally:
        await close_quietly(handle, job.resource_identifier)
    return target.size


class _LocalTarget:
    """The local file a download lands in, created with its first chunk."""

    def __init__(self, job: FileJob) -> None:
        self.job, self.size = job, 0
        self._writer: LocalWriter | None = None

    def __repr__(self) -> str:
        return f"_LocalTarget(local={os.fspath(self.job.local)!r}, size={self.size})"

    def store(self, data: bytes, last: bool) -> None:
        """Append ``data``; after the ``last`` chunk, check the size and publish."""
        if self._writer is None:
            self._writer = LocalWriter(self.job.local)
        self._writer.write(data)
        if last:
            self._writer.publish(self.size)

    def discard(self) -> None:
        """Remove the partial local file, if one was started."""
        if self._writer is not None:
            self._writer.discard()


async def _receive(
    handle: SFTPClientFile,
    target: _LocalTarget,
    job: FileJob,
    chunk_size: int,
    budget: asyncio.Semaphore,
) -> None:
    """Read the file with reads in flight, storing the chunks locally in order.

    The size and the first chunk are asked for together. A chunk holds one unit of
    ``budget`` from before it is requested until it is stored. With reads of its own in
    flight, a file only takes a unit that is free at once, so files never wait on each other
    while holding units.
    """
    loop = asyncio.get_running_loop()
    await budget.acquire()
    first = asyncio.ensure_future(_read(handle, chunk_size, 0, job, exact=False))
    reads: collections.deque[asyncio.Task[bytes]] = collections.deque([first])
    try:
        attributes = await handle.stat()
        if attributes.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise AccessorResourceInvalidError(
                f"cannot read {job.resource_identifier!r}: it is a container",
                job.resource_identifier,
            )
        target.size = attributes.size or 0
        requested = min(chunk_size, target.size)
        stored = 0
        while reads:
            while requested < target.size and not budget.locked():
                await budget.acquire()
                length = min(chunk_size, target.size - requested)
                reads.append(asyncio.ensure_future(_read(handle, length, requested, job)))
                requested += length
            read = reads.popleft()
            try:
                data = await read
                if read is first and len(data) != min(chunk_size, target.size):
                    raise AccessorTransferFailedError(
                        f"{job.resource_identifier!r} changed while it was read: {target.size}"
                        f" bytes, but {len(data)} at its start",
                        job.resource_identifier,
                    )
                stored += len(data)
                last = stored >= target.size
                await loop.run_in_executor(None, target.store, data, last)
            finally:
                budget.release()
            if not reads and requested < target.size:
                await budget.acquire()
                length = min(chunk_size, target.size - requested)
                reads.append(asyncio.ensure_future(_read(handle, length, requested, job)))
                requested += length
    except BaseException:
        for read in reads:
            read.cancel()
            budget.release()
        await asyncio.gather(*reads, return_exceptions=True)
        raise


async def _read(
    handle: SFTPClientFile, length: int, offset: int, job: FileJob, exact: bool = True
) -> bytes:
    data: bytes = await handle.read(length, offset)
    if exact and len(data) != length:
        raise AccessorTransferFailedError(
            f"expected {length} bytes at offset {offset} of {job.resource_identifier!r}, got"
            f" {len(data)}; the file changed while it was read",
            job.resource_identifier,
        )
    return data


def _translated(error: BaseException, job: FileJob, operation: str) -> BaseException:
    """The accessor error for ``error``; cancellations and accessor errors pass unchanged."""
    if not isinstance(error, Exception):
        return error
    return error_from_sftp(error, job.resource_identifier, operation)


def _reraise(error: BaseException, job: FileJob, operation: str) -> NoReturn:
    """Raise the accessor error for ``error``, which is being handled, chained to it."""
    translated = _translated(error, job, operation)
    if translated is error:
        raise error
    raise translated from error
