"""PathAccessor: local files named by their own absolute paths (origin and unmanaged data).

The built-in ``ftrack.origin``, ``ftrack.unmanaged`` and ``ftrack.review`` locations do not
manage data: their resource identifiers are the paths the user gave (``/renders/plate.exr``).
This accessor reads them where they are. Relative paths are taken from the current folder.
It has no root to confine identifiers to: it is for paths the user chose, never for
identifiers received from elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from shotbase.errors import AccessorError
from shotbase.storage.accessor.base import Accessor, ResourceFile
from shotbase.storage.accessor.disk import DiskAccessor

__all__ = ["PathAccessor"]

T = TypeVar("T")


class PathAccessor(Accessor):
    """The local file system, addressed by absolute paths."""

    def __init__(self) -> None:
        self._disk = DiskAccessor(os.path.abspath(os.sep))

    def __repr__(self) -> str:
        return "PathAccessor()"

    @staticmethod
    def _relative(resource_identifier: str) -> str:
        return os.path.abspath(resource_identifier).lstrip(os.sep)

    def _call(self, method: Callable[..., T], resource_identifier: str, *args: Any) -> T:
        """``method(relative identifier, *args)``, with errors naming the absolute path."""
        relative = self._relative(resource_identifier)
        try:
            return method(relative, *args)
        except AccessorError as error:
            message = str(error).replace(repr(relative), repr(self._absolute(relative)))
            raise type(error)(message, self._absolute(relative)) from error

    @staticmethod
    def _absolute(relative: str) -> str:
        return os.sep + relative

    def exists(self, resource_identifier: str) -> bool:
        """Return whether the path exists."""
        return self._call(self._disk.exists, resource_identifier)

    def is_file(self, resource_identifier: str) -> bool:
        """Return whether the path is a file."""
        return self._call(self._disk.is_file, resource_identifier)

    def is_container(self, resource_identifier: str) -> bool:
        """Return whether the path is a folder."""
        return self._call(self._disk.is_container, resource_identifier)

    def is_sequence(self, resource_identifier: str) -> bool:
        """Return whether the path is a sequence pattern with members present."""
        return self._call(self._disk.is_sequence, resource_identifier)

    def list(self, resource_identifier: str) -> list[str]:
        """Return the absolute paths in a folder, sorted."""
        entries = self._call(self._disk.list, resource_identifier)
        return [self._absolute(entry) for entry in entries]

    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        """Create a folder (and its parents when ``recursive``)."""
        self._call(self._disk.make_container, resource_identifier, recursive)

    def get_container(self, resource_identifier: str) -> str:
        """Return the folder holding the path."""
        return self._absolute(self._call(self._disk.get_container, resource_identifier))

    def open(self, resource_identifier: str, mode: str = "rb") -> ResourceFile:
        """Open the file for streaming (writes are atomic, as with :class:`DiskAccessor`)."""
        return self._call(self._disk.open, resource_identifier, mode)

    def remove(self, resource_identifier: str) -> None:
        """Remove a file, an empty folder or the present members of a sequence."""
        self._call(self._disk.remove, resource_identifier)

    def get_url(self, resource_identifier: str) -> str:
        """Return the ``file://`` URL of the path."""
        return self._call(self._disk.get_url, resource_identifier)

    def get_filesystem_path(self, resource_identifier: str) -> str:
        """Return the absolute path."""
        return self._call(self._disk.get_filesystem_path, resource_identifier)
