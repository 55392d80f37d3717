"""Accessors: one interface to read and write data in a storage, by resource identifier.

:class:`DiskAccessor` is always available; :class:`SFTPAccessor` needs the ``sftp`` extra
(``pip install 'shotbase[sftp]'``) and is imported from :mod:`shotbase.storage.accessor.sftp`.
"""

from __future__ import annotations

from shotbase.storage.accessor.base import Accessor, ResourceFile, split_identifier
from shotbase.storage.accessor.disk import DiskAccessor

__all__ = ["Accessor", "DiskAccessor", "ResourceFile", "split_identifier"]
