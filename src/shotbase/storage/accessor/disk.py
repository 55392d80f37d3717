"""DiskAccessor: a folder of the local file system (or a mounted share) as a storage."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

from shotbase.errors import (
    AccessorError,
    AccessorParentResourceNotFoundError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
)
from shotbase.storage.accessor.base import (
    READ_MODES,
    WRITE_MODES,
    Accessor,
    ResourceFile,
    ResourceReader,
    TemporaryFileWriter,
    error_from_os,
    join_identifier,
    sequence_members,
    split_identifier,
    temporary_name,
)
from shotbase.storage.sequence import FileSequence, is_sequence_expression

__all__ = ["DiskAccessor", "DiskWriter"]

logger = logging.getLogger(__name__)


class DiskAccessor(Accessor):
    """Access files under one folder, ``prefix``; nothing outside it can be reached.

    Resource identifiers are relative paths. Identifiers with ``..`` or an absolute path are
    refused, and so is any path that resolves (through a symlink) outside ``prefix``.

    Args:
        prefix: The storage root. ``~`` and environment variables are expanded.
    """

    def __init__(self, prefix: str | os.PathLike[str]) -> None:
        expanded = os.path.expanduser(os.path.expandvars(os.fspath(prefix)))
        self.prefix = os.path.abspath(expanded)

    def __repr__(self) -> str:
        return f"DiskAccessor(prefix={self.prefix!r})"

    def _path(self, resource_identifier: str) -> Path:
        """Return the confined file system path of ``resource_identifier``."""
        parts = split_identifier(resource_identifier)
        path = Path(self.prefix, *parts)
        root = os.path.realpath(self.prefix)
        resolved = os.path.realpath(path)
        if os.path.commonpath([root, resolved]) != root:
            raise AccessorResourceInvalidError(
                f"resource identifier {resource_identifier!r} resolves outside the accessor's"
                f" prefix {self.prefix!r} (through a symlink)",
                resource_identifier,
            )
        return path

    def exists(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a file or container."""
        return self._path(resource_identifier).exists()

    def is_file(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a file."""
        return self._path(resource_identifier).is_file()

    def is_container(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a folder."""
        return self._path(resource_identifier).is_dir()

    def is_sequence(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` is a sequence pattern with members present."""
        return bool(self._sequence_members(resource_identifier))

    def _sequence_members(self, resource_identifier: str) -> list[str]:
        if not is_sequence_expression(resource_identifier):
            return []
        parts = split_identifier(resource_identifier)
        container = join_identifier(parts[:-1])
        pattern = FileSequence.parse(parts[-1])
        folder = self._path(container)
        if not folder.is_dir():
            return []
        names = [entry.name for entry in os.scandir(folder) if entry.is_file()]
        return sequence_members(parts[:-1], pattern, names)

    def list(self, resource_identifier: str) -> list[str]:
        """Return the resource identifiers in a container, sorted.

        Raises:
            AccessorResourceNotFoundError: If the container does not exist.
            AccessorResourceInvalidError: If ``resource_identifier`` is a file.
        """
        path = self._path(resource_identifier)
        parts = split_identifier(resource_identifier)
        try:
            names = os.listdir(path)
        except OSError as error:
            raise error_from_os(error, resource_identifier, "list") from error
        return sorted(join_identifier((*parts, name)) for name in names)

    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        """Create a folder; an existing folder is left as it is.

        Raises:
            AccessorParentResourceNotFoundError: If the parent is missing and not ``recursive``.
            AccessorResourceInvalidError: If a file already has that name.
        """
        path = self._path(resource_identifier)
        if path.is_dir():
            return
        try:
            path.mkdir(parents=recursive, exist_ok=True)
        except FileNotFoundError as error:
            raise AccessorParentResourceNotFoundError(
                f"cannot make container {resource_identifier!r}: its parent does not exist",
                resource_identifier,
            ) from error
        except OSError as error:
            raise error_from_os(error, resource_identifier, "make container") from error

    def open(self, resource_identifier: str, mode: str = "rb") -> ResourceFile:
        """Open a file for streaming; writes land under a temporary name until close.

        Raises:
            ValueError: If ``mode`` is not ``"rb"`` or ``"wb"``.
            AccessorResourceNotFoundError: If reading a missing file.
            AccessorParentResourceNotFoundError: If writing into a missing folder.
            AccessorPermissionDeniedError: If the file system refuses access.
        """
        path = self._path(resource_identifier)
        if mode in READ_MODES:
            try:
                handle = path.open("rb")
            except OSError as error:
                raise error_from_os(error, resource_identifier, "open") from error
            return _DiskReader(handle)
        if mode in WRITE_MODES:
            if not split_identifier(resource_identifier):
                raise AccessorResourceInvalidError(
                    "cannot write to the root container", resource_identifier
                )
            if not path.parent.is_dir():
                raise AccessorParentResourceNotFoundError(
                    f"cannot write {resource_identifier!r}: its container does not exist",
                    resource_identifier,
                )
            if path.is_dir():
                raise AccessorResourceInvalidError(
                    f"cannot write {resource_identifier!r}: it is a container",
                    resource_identifier,
                )
            return DiskWriter(path, resource_identifier)
        raise ValueError(f"expected mode 'rb' or 'wb', got {mode!r}")

    def remove(self, resource_identifier: str) -> None:
        """Remove a file, an empty folder, or the present members of a sequence.

        A sequence pattern whose members are all gone already is not an error: the official
        client removes the members before the sequence itself.

        Raises:
            AccessorResourceNotFoundError: If nothing has that name.
            AccessorContainerNotEmptyError: If the folder still has entries.
        """
        if is_sequence_expression(resource_identifier):
            for member in self._sequence_members(resource_identifier):
                self.remove(member)
            return
        path = self._path(resource_identifier)
        try:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            elif path.exists() or path.is_symlink():
                path.unlink()
            else:
                raise AccessorResourceNotFoundError(
                    f"cannot remove {resource_identifier!r}: it does not exist",
                    resource_identifier,
                )
        except OSError as error:
            raise error_from_os(error, resource_identifier, "remove") from error

    def get_url(self, resource_identifier: str) -> str:
        """Return the ``file://`` URL of ``resource_identifier``."""
        return self._path(resource_identifier).as_uri()

    def get_filesystem_path(self, resource_identifier: str) -> str:
        """Return the absolute path of ``resource_identifier``."""
        return os.fspath(self._path(resource_identifier))


class _DiskReader(ResourceReader):
    """A read-only view of an open file (no write, so misuse fails clearly)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def __repr__(self) -> str:
        return f"_DiskReader(name={self._handle.name!r})"

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        return self._handle.closed

    def read(self, size: int | None = -1, /) -> bytes:
        """Return up to ``size`` bytes (everything left when negative or None)."""
        return self._handle.read(-1 if size is None else size)

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def _discard(handle: BinaryIO, temporary: Path) -> None:
    """Close and delete a temporary file (also run when a writer is dropped unclosed)."""
    handle.close()
    try:
        temporary.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("could not remove partial file %s", temporary, exc_info=True)


class DiskWriter(TemporaryFileWriter):
    """Write to a temporary file beside the target; rename over the target on close.

    Args:
        path: The final path.
        resource_identifier: The identifier, for error messages.
    Raises:
        AccessorPermissionDeniedError: If the folder is not writable.
    """

    def __init__(self, path: Path, resource_identifier: str) -> None:
        self.path = path
        self.resource_identifier = resource_identifier
        self.temporary = path.with_name(temporary_name(path.name))
        self._written = 0
        try:
            self._handle: BinaryIO = self.temporary.open("xb")
        except OSError as error:
            raise error_from_os(error, resource_identifier, "open") from error
        super().__init__(_discard, self._handle, self.temporary)

    def __repr__(self) -> str:
        return f"DiskWriter(path={os.fspath(self.path)!r}, written={self._written})"

    def write(self, data: bytes, /) -> int:
        """Write ``data``; on failure the partial file is removed.

        Raises:
            AccessorTransferFailedError: If the disk is full or an I/O error occurs.
            AccessorPermissionDeniedError: If the file system turned read-only.
        """
        self._check_open()
        try:
            count = self._handle.write(data)
        except OSError as error:
            self.abort()
            raise error_from_os(error, self.resource_identifier, "write") from error
        self._written += count
        return count

    def flush(self) -> None:
        """Flush Python's buffer to the operating system."""
        self._check_open()
        try:
            self._handle.flush()
        except OSError as error:
            self.abort()
            raise error_from_os(error, self.resource_identifier, "write") from error

    def close(self) -> None:
        """Flush, verify the byte count and rename the temporary file over the target.

        Raises:
            AccessorTransferFailedError: If the data did not all reach the disk.
        """
        if not self._finalizer.alive:
            return
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            size = self.temporary.stat().st_size
            if size != self._written:
                raise AccessorTransferFailedError(
                    f"wrote {self._written} bytes to {self.resource_identifier!r} but"
                    f" {size} reached the disk",
                    self.resource_identifier,
                )
            os.replace(self.temporary, self.path)
        except OSError as error:
            self.abort()
            raise error_from_os(error, self.resource_identifier, "write") from error
        except AccessorError:
            self.abort()
            raise
        self._finalizer.detach()

    def abort(self) -> None:
        """Stop writing and remove the partial file; the target is left untouched."""
        self._finalizer()
