"""The accessor interface, resource identifier confinement and error translation.

An accessor gives access to one storage (a folder on disk, a folder on an SFTP server, ...).
Every method takes a *resource identifier*: a relative, ``/``-separated path inside the
accessor's root. :func:`split_identifier` is the single gate every accessor passes identifiers
through, so an identifier can never reach outside the root (no ``..``, no absolute paths).

The interface has the same duck shape as ``ftrack_api.accessor.base.Accessor``, so a shotbase
accessor can be set as ``location.accessor`` in the official client too.
"""

from __future__ import annotations

import abc
import errno
import os
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

from shotbase.errors import (
    AccessorContainerNotEmptyError,
    AccessorError,
    AccessorParentResourceNotFoundError,
    AccessorPermissionDeniedError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
)
from shotbase.storage.sequence import FileSequence

__all__ = [
    "Accessor",
    "LocalPath",
    "LocalWriter",
    "ResourceFile",
    "ResourceReader",
    "TemporaryFileWriter",
    "TransferFile",
    "error_from_os",
    "join_identifier",
    "sequence_members",
    "split_identifier",
    "temporary_name",
]

READ_MODES = frozenset({"r", "rb"})
WRITE_MODES = frozenset({"w", "wb"})
COPY_CHUNK_SIZE = 1024 * 1024

LocalPath = str | os.PathLike[str]
_File = TypeVar("_File", bound="TransferFile")


class ResourceFile(Protocol):
    """A streaming binary file object returned by :meth:`Accessor.open`.

    Writers publish their data under the final name only when :meth:`close` succeeds; leaving a
    ``with`` block by an exception, calling ``abort()`` or dropping the object unclosed removes
    the partial data.
    """

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        ...

    def read(self, size: int | None = -1, /) -> bytes:
        """Return up to ``size`` bytes (everything left when negative or None)."""
        ...

    def write(self, data: bytes, /) -> int:
        """Write ``data`` and return the number of bytes written."""
        ...

    def flush(self) -> None:
        """Push buffered data towards the storage."""
        ...

    def close(self) -> None:
        """Finish the transfer (for writers: verify and publish under the final name)."""
        ...

    def __enter__(self) -> ResourceFile: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class Accessor(abc.ABC):
    """Read and write data in one storage, addressed by resource identifier."""

    @abc.abstractmethod
    def exists(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a file or container.

        Raises:
            AccessorResourceInvalidError: If the identifier escapes the accessor's root.
        """

    @abc.abstractmethod
    def is_file(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a file."""

    @abc.abstractmethod
    def is_container(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a container (a folder)."""

    @abc.abstractmethod
    def is_sequence(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` is a sequence expression with members present.

        A sequence expression is a path with a ``%d`` or ``%0Nd`` frame placeholder, such as
        ``shots/sh010/plate.%04d.exr``.
        """

    @abc.abstractmethod
    def list(self, resource_identifier: str) -> list[str]:
        """Return the resource identifiers of the entries in a container, sorted.

        Raises:
            AccessorResourceNotFoundError: If the container does not exist.
            AccessorResourceInvalidError: If ``resource_identifier`` is not a container.
        """

    @abc.abstractmethod
    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        """Create a container; an existing container is left as it is.

        Args:
            resource_identifier: The container to create.
            recursive: Also create missing parent containers.
        Raises:
            AccessorParentResourceNotFoundError: If the parent is missing and not ``recursive``.
            AccessorResourceInvalidError: If a file already has that name.
        """

    def get_container(self, resource_identifier: str) -> str:
        """Return the resource identifier of the container holding ``resource_identifier``.

        The root container is ``""``.

        Raises:
            AccessorParentResourceNotFoundError: If ``resource_identifier`` is the root.
        """
        parts = split_identifier(resource_identifier)
        if not parts:
            raise AccessorParentResourceNotFoundError(
                "the root container has no container", resource_identifier
            )
        return join_identifier(parts[:-1])

    @abc.abstractmethod
    def open(self, resource_identifier: str, mode: str = "rb") -> ResourceFile:
        """Open a file for streaming.

        Args:
            resource_identifier: The file.
            mode: ``"rb"`` to read, ``"wb"`` to write (to a temporary name, renamed over
                ``resource_identifier`` on a successful close).
        Returns:
            A streaming binary file object.
        Raises:
            ValueError: If ``mode`` is not a supported mode.
            AccessorResourceNotFoundError: If reading a file that does not exist.
            AccessorParentResourceNotFoundError: If writing into a missing container.
            AccessorPermissionDeniedError: If the storage refuses access.
        """

    @abc.abstractmethod
    def remove(self, resource_identifier: str) -> None:
        """Remove a file, an empty container, or the present members of a sequence.

        Raises:
            AccessorResourceNotFoundError: If nothing has that name.
            AccessorContainerNotEmptyError: If the container still has entries.
        """

    def remove_container(self, resource_identifier: str) -> None:
        """Remove an empty container (the official client's name for :meth:`remove`)."""
        self.remove(resource_identifier)

    def put_files(self, files: Iterable[tuple[LocalPath, str]]) -> int:
        """Copy local files into the storage: ``(local path, resource identifier)`` pairs.

        Each file keeps the guarantees of :meth:`open`: it is written to a temporary name,
        its byte count is verified and it is renamed over the target only when complete.
        Accessors with round trips to hide (SFTP) copy several files at once; this default
        copies them one after the other.

        Args:
            files: Where each file comes from and the identifier it is stored under. The
                containers must exist (see :meth:`make_container`).
        Returns:
            The number of bytes copied.
        Raises:
            AccessorError: For the first file that fails, naming it; its partial file is
                removed. Files finished (or already started, by accessors that copy several
                at once) stay in place, complete; later ones are not started.
            AccessorResourceNotFoundError: If a local file does not exist.
        """
        copied = 0
        for local, resource_identifier in files:
            try:
                source = open(local, "rb")
            except OSError as error:
                raise error_from_os(error, os.fspath(local), "read") from error
            with source, self.open(resource_identifier, "wb") as target:
                while chunk := source.read(COPY_CHUNK_SIZE):
                    copied += target.write(chunk)
        return copied

    def get_files(self, files: Iterable[tuple[str, LocalPath]]) -> int:
        """Copy files out of the storage: ``(resource identifier, local path)`` pairs.

        Each local file is written to a temporary name beside its path, its byte count
        checked, and renamed over the path only when complete. Accessors with round trips
        to hide (SFTP) copy several files at once; this default copies them one by one.

        Args:
            files: The identifier of each file and where to write it. Local folders must
                exist.
        Returns:
            The number of bytes copied.
        Raises:
            AccessorError: For the first file that fails, naming it; its partial local file
                is removed. Files finished (or already started) stay in place, complete;
                later ones are not started.
        """
        copied = 0
        for resource_identifier, local in files:
            with self.open(resource_identifier, "rb") as source, LocalWriter(local) as target:
                while chunk := source.read(COPY_CHUNK_SIZE):
                    target.write(chunk)
                copied += target.written
        return copied

    @abc.abstractmethod
    def get_url(self, resource_identifier: str) -> str:
        """Return a URL for ``resource_identifier`` (``file://`` or ``sftp://``)."""

    @abc.abstractmethod
    def get_filesystem_path(self, resource_identifier: str) -> str:
        """Return the path of ``resource_identifier`` in the storage's own file system."""


def split_identifier(resource_identifier: str) -> tuple[str, ...]:
    """Split a resource identifier into path parts that stay inside the accessor's root.

    ``.`` and empty parts are dropped, so ``""`` and ``"."`` name the root. Both ``/`` and
    ``\\`` separate parts, so a Windows-style ``..\\x`` is caught too.

    Args:
        resource_identifier: A relative path such as ``"show/sh010/v001/main.exr"``.
    Returns:
        The path parts, e.g. ``("show", "sh010", "v001", "main.exr")``.
    Raises:
        AccessorResourceInvalidError: If the identifier is not a string, is absolute, contains
            a ``..`` part or a NUL character.
    """
    if not isinstance(resource_identifier, str):
        raise AccessorResourceInvalidError(
            f"expected a resource identifier string, got {type(resource_identifier).__name__}",
            None,
        )
    if "\x00" in resource_identifier:
        raise AccessorResourceInvalidError(
            f"resource identifier {resource_identifier!r} contains a NUL character",
            resource_identifier,
        )
    unified = resource_identifier.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise AccessorResourceInvalidError(
            f"resource identifier {resource_identifier!r} is absolute; expected a path"
            " relative to the accessor's root",
            resource_identifier,
        )
    parts = tuple(part for part in unified.split("/") if part not in ("", "."))
    if ".." in parts:
        raise AccessorResourceInvalidError(
            f"resource identifier {resource_identifier!r} contains '..'; it may not leave"
            " the accessor's root",
            resource_identifier,
        )
    return parts


def join_identifier(parts: Sequence[str]) -> str:
    """Join path parts back into a resource identifier (``""`` for the root)."""
    return "/".join(parts)


def sequence_members(
    container: Sequence[str], sequence: FileSequence, names: Iterable[str]
) -> list[str]:
    """Return the identifiers of the entries of a container that belong to a sequence, sorted.

    Args:
        container: The container's path parts (see :func:`split_identifier`).
        sequence: The sequence expression, parsed from the last part of its identifier.
        names: The names of the container's entries.
    """
    return sorted(
        join_identifier((*container, name)) for name in names if sequence.match(name) is not None
    )


def temporary_name(name: str) -> str:
    """Return a hidden, unique name beside ``name`` to write to before renaming."""
    return f".{name}.{uuid.uuid4().hex[:12]}.part"


def error_from_os(error: OSError, resource_identifier: str, operation: str) -> AccessorError:
    """Translate an ``OSError`` into the accessor error for its ``errno``.

    Args:
        error: The error the file system raised.
        resource_identifier: The resource the operation concerned.
        operation: What was being done, e.g. ``"open"``, for the message.
    Returns:
        The accessor error to raise ``from error``.
    """
    reason = error.strerror or str(error)
    message = f"cannot {operation} {resource_identifier!r}: {reason}"
    code = error.errno
    if code == errno.ENOENT:
        return AccessorResourceNotFoundError(message, resource_identifier)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return AccessorPermissionDeniedError(message, resource_identifier)
    if code == errno.ENOTEMPTY:
        return AccessorContainerNotEmptyError(message, resource_identifier)
    if code in (errno.ENOTDIR, errno.EISDIR, errno.EINVAL, errno.EEXIST, errno.ELOOP):
        return AccessorResourceInvalidError(message, resource_identifier)
    return AccessorTransferFailedError(message, resource_identifier)


class TransferFile(abc.ABC):
    """The ``with`` handling shared by the accessors' file objects and :class:`LocalWriter`.

    Leaving the block normally calls :meth:`close` (finish the transfer); leaving it by an
    exception calls :meth:`abort` (abandon it, publishing nothing).
    """

    @abc.abstractmethod
    def close(self) -> None:
        """Finish the transfer."""

    def abort(self) -> None:
        """Abandon the transfer, publishing nothing; for a reader, the same as :meth:`close`."""
        self.close()

    def __enter__(self: _File) -> _File:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class ResourceReader(TransferFile):
    """A resource file open for reading: writes are refused and there is nothing to flush."""

    def write(self, data: bytes, /) -> int:
        """Refuse: the file is open for reading."""
        raise ValueError("file is open for reading, not writing")

    def flush(self) -> None:
        """Do nothing: readers hold no pending data."""


class TemporaryFileWriter(TransferFile):
    """A resource file written under a temporary name and published by :meth:`close`.

    The writer stays open until it is published or aborted; one dropped while still open has
    its temporary file removed by ``discard(*args)``.

    Args:
        discard: Closes and removes the temporary file.
        args: What ``discard`` is called with (never the writer itself, or it is never dropped).
    """

    def __init__(self, discard: Callable[..., object], *args: object) -> None:
        self._finalizer = weakref.finalize(self, discard, *args)

    @property
    def closed(self) -> bool:
        """Whether the writer is closed (published or aborted)."""
        return not self._finalizer.alive

    def read(self, size: int | None = -1, /) -> bytes:
        """Refuse: the file is open for writing."""
        raise ValueError("file is open for writing, not reading")

    def _check_open(self) -> None:
        if not self._finalizer.alive:
            raise ValueError("I/O operation on a closed writer")


class LocalWriter(TransferFile):
    """A local file written under a temporary name and renamed into place by :meth:`publish`.

    Used where an accessor copies data to the local disk (:meth:`Accessor.get_files`). Like
    OpenSSH's ``sftp``, it does not fsync: the rename makes the file appear whole to other
    readers, not durable across a power cut.

    Args:
        path: The final local path; its folder must exist.
    Raises:
        AccessorResourceNotFoundError: If the folder does not exist.
        AccessorPermissionDeniedError: If the folder is not writable.
    """

    def __init__(self, path: LocalPath) -> None:
        self.path = Path(path)
        self.temporary = self.path.with_name(temporary_name(self.path.name))
        self.written = 0
        try:
            self._handle = self.temporary.open("xb")
        except OSError as error:
            raise error_from_os(error, os.fspath(self.path), "write") from error

    def __repr__(self) -> str:
        return f"LocalWriter(path={os.fspath(self.path)!r}, written={self.written})"

    def write(self, data: bytes) -> int:
        """Append ``data``.

        Raises:
            AccessorTransferFailedError: If the disk is full or an I/O error occurs.
        """
        try:
            count = self._handle.write(data)
        except OSError as error:
            raise error_from_os(error, os.fspath(self.path), "write") from error
        self.written += count
        return count

    def publish(self, expected: int | None = None) -> None:
        """Close, check the byte count and rename over the final path.

        Args:
            expected: The number of bytes the source held, when known.
        Raises:
            AccessorTransferFailedError: If fewer or more bytes reached the disk.
        """
        name = os.fspath(self.path)
        try:
            self._handle.close()
            size = self.temporary.stat().st_size
        except OSError as error:
            raise error_from_os(error, name, "write") from error
        for wanted in {self.written, self.written if expected is None else expected}:
            if size != wanted:
                raise AccessorTransferFailedError(
                    f"expected {wanted} bytes in {name!r}, but {size} reached the disk", name
                )
        try:
            os.replace(self.temporary, self.path)
        except OSError as error:
            raise error_from_os(error, name, "write") from error

    def discard(self) -> None:
        """Close and remove the temporary file (nothing is published)."""
        self._handle.close()
        self.temporary.unlink(missing_ok=True)

    def close(self) -> None:
        """Publish the file (see :meth:`publish`); if that fails, discard it."""
        try:
            self.publish()
        except BaseException:
            self.discard()
            raise

    def abort(self) -> None:
        """Discard the file (see :meth:`discard`)."""
        self.discard()
