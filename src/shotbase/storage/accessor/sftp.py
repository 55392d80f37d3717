"""SFTPAccessor: a folder on an SFTP server as a storage, over asyncssh.

Needs the ``sftp`` extra: ``pip install 'shotbase[sftp]'``.

One SSH connection per accessor is opened on first use and reused by every call; calls from
any thread run on one background event loop. Reads and writes are pipelined (see
:mod:`shotbase.storage.accessor._sftp_files`). Host keys are checked by default against
``~/.ssh/known_hosts``; pass ``known_hosts`` (another file) or ``host_keys`` (public keys to
trust) to trust a host, or ``check_host_key=False`` to skip the check (insecure).
"""

from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

try:
    import asyncssh
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "SFTPAccessor needs asyncssh: pip install 'shotbase[sftp]'", name=error.name
    ) from error

from shotbase.errors import (
    AccessorConnectionError,
    AccessorContainerNotEmptyError,
    AccessorParentResourceNotFoundError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
)
from shotbase.storage.accessor._loop import LoopThread, shared_loop
from shotbase.storage.accessor._sftp_batch import (
    BatchSettings,
    Confine,
    FileJob,
    get_files,
    put_files,
)
from shotbase.storage.accessor._sftp_files import (
    SFTPReader,
    SFTPWriter,
    close_quietly,
    error_from_sftp,
)
from shotbase.storage.accessor._sftp_settings import SFTPSettings, resolve_sftp_settings
from shotbase.storage.accessor.base import (
    READ_MODES,
    WRITE_MODES,
    Accessor,
    LocalPath,
    ResourceFile,
    join_identifier,
    sequence_members,
    split_identifier,
    temporary_name,
)
from shotbase.storage.sequence import FileSequence, is_sequence_expression

if TYPE_CHECKING:
    from asyncssh import SFTPClient, SSHClientConnection

__all__ = ["SFTPAccessor", "SFTPSettings", "resolve_sftp_settings"]

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1024 * 1024
DEFAULT_WINDOW = 8
DEFAULT_CONCURRENCY = 8
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
)


async def _close_connection(connection: SSHClientConnection) -> None:
    connection.close()
    await connection.wait_closed()


def _close_in_background(loop: LoopThread, state: dict[str, Any]) -> None:
    connection = state.get("connection")
    if connection is not None:
        loop.submit(_close_connection(connection))


class SFTPAccessor(Accessor):
    """Access files under a folder of an SFTP server.

    Args:
        host: Server name or address (else ``SHOTBASE_SFTP_HOSTNAME`` /
            ``FTRACK_SFTP_ACCESSOR_HOSTNAME``).
        username: Login name.
        port: TCP port (default 22).
        password: Password; without it, SSH keys are used.
        folder: Remote folder that is the accessor's root.
        known_hosts: known_hosts file to check the server's host key against (default
            ``~/.ssh/known_hosts``).
        host_keys: Public keys to trust for this server, in OpenSSH format
            (``"ssh-ed25519 AAAA..."``), instead of a known_hosts file.
        check_host_key: ``False`` accepts any host key. Insecure: only for throw-away hosts.
        key_filename: Private key file to log in with.
        chunk_size: Bytes per read or write request.
        window: Requests kept in flight per open file, and across all the files of one
            :meth:`put_files` or :meth:`get_files` batch.
        concurrency: Files a batch keeps in flight.
        connect_timeout: Seconds to wait for the connection and login.
        environ: Environment to read settings from (default ``os.environ``).
    Raises:
        ConfigurationError: If no hostname is configured.
    """

    def __init__(
        self,
        host: str | None = None,
        username: str | None = None,
        port: int | None = None,
        password: str | None = None,
        folder: str | None = None,
        *,
        known_hosts: str | os.PathLike[str] | None = None,
        host_keys: Sequence[str] = (),
        check_host_key: bool = True,
        key_filename: str | os.PathLike[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        window: int = DEFAULT_WINDOW,
        concurrency: int = DEFAULT_CONCURRENCY,
        connect_timeout: float = 30.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = resolve_sftp_settings(
            host,
            username,
            port,
            password,
            folder,
            None if known_hosts is None else os.fspath(known_hosts),
            None if key_filename is None else os.fspath(key_filename),
            environ,
        )
        self.host_keys = tuple(host_keys)
        self.check_host_key = check_host_key
        self.chunk_size, self.window, self.concurrency = chunk_size, window, concurrency
        self.connect_timeout = connect_timeout
        self._loop = shared_loop()
        self._state: dict[str, Any] = {}
        self._connecting: asyncio.Lock | None = None
        self._finalizer = weakref.finalize(self, _close_in_background, self._loop, self._state)

    def __repr__(self) -> str:
        settings = self.settings
        return (
            f"SFTPAccessor(host={settings.hostname!r}, port={settings.port}, "
            f"username={settings.username!r}, folder={settings.folder!r})"
        )

    # Connection ---------------------------------------------------------------------------

    def _known_hosts(self) -> Any:
        if not self.check_host_key:
            return None
        if self.host_keys:
            keys = [asyncssh.import_public_key(key) for key in self.host_keys]
            return (keys, [], [])
        if self.settings.known_hosts:
            return self.settings.known_hosts
        return ()

    async def _client(self) -> tuple[SFTPClient, str]:
        """Return the SFTP session and the resolved remote root, connecting if needed."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            connection = self._state.get("connection")
            if connection is not None and not connection.is_closed():
                return self._state["sftp"], self._state["root"]
            await self._connect()
            return self._state["sftp"], self._state["root"]

    async def _connect(self) -> None:
        settings = self.settings
        where = f"{settings.username or ''}@{settings.hostname}:{settings.port}".lstrip("@")
        options: dict[str, Any] = {
            "port": settings.port,
            "known_hosts": self._known_hosts(),
            "connect_timeout": self.connect_timeout,
            # AES-GCM runs on the CPU's AES instructions; asyncssh's default order puts
            # chacha20-poly1305 first, which is several times slower here.
            "encryption_algs": PREFERRED_CIPHERS,
        }
        if settings.username:
            options["username"] = settings.username
        if settings.password is not None:
            options["password"] = settings.password
        if settings.key_filename:
            options["client_keys"] = [settings.key_filename]
        elif settings.password is not None:
            options["client_keys"] = None
        try:
            connection = await asyncssh.connect(settings.hostname, **options)
        except asyncssh.PermissionDenied as error:
            raise AccessorConnectionError(
                f"SFTP login to {where} was refused: wrong password or key"
            ) from error
        except asyncssh.HostKeyNotVerifiable as error:
            raise AccessorConnectionError(
                f"SFTP host key of {settings.hostname}:{settings.port} is not trusted: add it"
                " to known_hosts (ssh-keyscan), or pass known_hosts= or host_keys= ({error})"
            ) from error
        except (OSError, asyncssh.Error, TimeoutError) as error:
            raise AccessorConnectionError(f"cannot connect to SFTP server {where}: {error}") from (
                error
            )
        try:
            sftp = await connection.start_sftp_client()
            root = await sftp.realpath(settings.folder or ".")
            if not await sftp.isdir(root):
                raise AccessorResourceNotFoundError(
                    f"SFTP folder {settings.folder!r} does not exist on {where}", ""
                )
        except BaseException:
            connection.close()
            raise
        logger.debug("connected to %s, root %s", where, root)
        self._state.update(connection=connection, sftp=sftp, root=root)

    def _run(self, operation: str, resource_identifier: str, coroutine: Any) -> Any:
        """Run an operation on the loop, translating asyncssh errors."""
        try:
            return self._loop.run(coroutine)
        except Exception as error:
            raise error_from_sftp(error, resource_identifier, operation) from error

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        connection = self._state.pop("connection", None)
        if connection is not None:
            self._loop.run(_close_connection(connection))

    def __enter__(self) -> SFTPAccessor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Paths --------------------------------------------------------------------------------

    async def _remote(self, resource_identifier: str) -> tuple[SFTPClient, str, str]:
        """Return the SFTP session, the root and the confined remote path."""
        parts = split_identifier(resource_identifier)
        sftp, root = await self._client()
        return sftp, root, posixpath.join(root, *parts)

    async def _check_resolved(self, sftp: SFTPClient, root: str, path: str, ident: str) -> None:
        """Refuse a path whose nearest existing ancestor resolves outside the root."""
        probe = path
        while True:
            try:
                resolved = await sftp.realpath(probe)
            except asyncssh.SFTPNoSuchFile:
                if probe == root:
                    return
                probe = posixpath.dirname(probe)
                continue
            break
        if resolved != root and not resolved.startswith(root.rstrip("/") + "/"):
            raise AccessorResourceInvalidError(
                f"resource identifier {ident!r} resolves outside the accessor's folder"
                " (through a symlink)",
                ident,
            )

    # Queries ------------------------------------------------------------------------------

    def exists(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a file or folder."""
        return bool(self._run("stat", resource_identifier, self._exists(resource_identifier)))

    async def _exists(self, resource_identifier: str) -> bool:
        sftp, _, path = await self._remote(resource_identifier)
        return bool(await sftp.exists(path))

    def is_file(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a file."""
        return bool(self._run("stat", resource_identifier, self._is_file(resource_identifier)))

    async def _is_file(self, resource_identifier: str) -> bool:
        sftp, _, path = await self._remote(resource_identifier)
        return bool(await sftp.isfile(path))

    def is_container(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` names a folder."""
        return bool(self._run("stat", resource_identifier, self._is_dir(resource_identifier)))

    async def _is_dir(self, resource_identifier: str) -> bool:
        sftp, _, path = await self._remote(resource_identifier)
        return bool(await sftp.isdir(path))

    def is_sequence(self, resource_identifier: str) -> bool:
        """Return whether ``resource_identifier`` is a sequence pattern with members present."""
        members = self._run("list", resource_identifier, self._members(resource_identifier))
        return bool(members)

    async def _members(self, resource_identifier: str) -> Sequence[str]:
        if not is_sequence_expression(resource_identifier):
            return []
        parts = split_identifier(resource_identifier)
        pattern = FileSequence.parse(parts[-1])
        sftp, _, folder = await self._remote(join_identifier(parts[:-1]))
        if not await sftp.isdir(folder):
            return []
        return sequence_members(parts[:-1], pattern, await sftp.listdir(folder))

    def list(self, resource_identifier: str) -> list[str]:
        """Return the resource identifiers in a folder, sorted.

        Raises:
            AccessorResourceNotFoundError: If the folder does not exist.
            AccessorResourceInvalidError: If ``resource_identifier`` is a file.
        """
        result: Sequence[str] = self._run(
            "list", resource_identifier, self._list(resource_identifier)
        )
        return [*result]

    async def _list(self, resource_identifier: str) -> Sequence[str]:
        sftp, root, path = await self._remote(resource_identifier)
        await self._check_resolved(sftp, root, path, resource_identifier)
        if not await sftp.isdir(path):
            if await sftp.exists(path):
                raise AccessorResourceInvalidError(
                    f"cannot list {resource_identifier!r}: it is not a container",
                    resource_identifier,
                )
            raise AccessorResourceNotFoundError(
                f"cannot list {resource_identifier!r}: it does not exist", resource_identifier
            )
        parts = split_identifier(resource_identifier)
        names = [name for name in await sftp.listdir(path) if name not in (".", "..")]
        return sorted(join_identifier((*parts, name)) for name in names)

    # Changes ------------------------------------------------------------------------------

    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        """Create a folder; an existing folder is left as it is.

        Raises:
            AccessorParentResourceNotFoundError: If the parent is missing and not ``recursive``.
            AccessorResourceInvalidError: If a file already has that name.
            AccessorPermissionDeniedError: If the server refuses.
        """
        self._run(
            "make container",
            resource_identifier,
            self._make_container(resource_identifier, recursive),
        )

    async def _make_container(self, resource_identifier: str, recursive: bool) -> None:
        sftp, root, path = await self._remote(resource_identifier)
        if await sftp.isdir(path):
            return
        await self._check_resolved(sftp, root, path, resource_identifier)
        if await sftp.exists(path):
            raise AccessorResourceInvalidError(
                f"cannot make container {resource_identifier!r}: a file has that name",
                resource_identifier,
            )
        if recursive:
            await sftp.makedirs(path, exist_ok=True)
            return
        if not await sftp.isdir(posixpath.dirname(path)):
            raise AccessorParentResourceNotFoundError(
                f"cannot make container {resource_identifier!r}: its parent does not exist",
                resource_identifier,
            )
        await sftp.mkdir(path)

    def open(self, resource_identifier: str, mode: str = "rb") -> ResourceFile:
        """Open a remote file for pipelined streaming; writes go to a temporary name.

        Raises:
            ValueError: If ``mode`` is not ``"rb"`` or ``"wb"``.
            AccessorResourceNotFoundError: If reading a missing file.
            AccessorParentResourceNotFoundError: If writing into a missing folder.
            AccessorPermissionDeniedError: If the server refuses access.
            AccessorConnectionError: If the server cannot be reached or refuses the login.
        """
        if mode in READ_MODES:
            reader: SFTPReader = self._run(
                "open", resource_identifier, self._open_reader(resource_identifier)
            )
            return reader
        if mode in WRITE_MODES:
            writer: SFTPWriter = self._run(
                "open", resource_identifier, self._open_writer(resource_identifier)
            )
            return writer
        raise ValueError(f"expected mode 'rb' or 'wb', got {mode!r}")

    async def _open_reader(self, resource_identifier: str) -> SFTPReader:
        sftp, root, path = await self._remote(resource_identifier)
        # One round trip for both: a handle opened through an escaping symlink is closed
        # unread.
        checked, opened = await asyncio.gather(
            self._check_resolved(sftp, root, path, resource_identifier),
            sftp.open(path, "rb"),
            return_exceptions=True,
        )
        if isinstance(opened, BaseException):
            raise checked if isinstance(checked, BaseException) else opened
        handle = opened
        try:
            if isinstance(checked, BaseException):
                raise checked
            # The size and the first chunk in one round trip; for a small file, all of it.
            attributes, first = await asyncio.gather(
                handle.stat(), handle.read(self.chunk_size, 0), return_exceptions=True
            )
            if isinstance(attributes, BaseException):
                raise attributes
            if attributes.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                raise AccessorResourceInvalidError(
                    f"cannot open {resource_identifier!r}: it is a container",
                    resource_identifier,
                )
            if isinstance(first, BaseException):
                raise first
            size = attributes.size or 0
            if len(first) != min(size, self.chunk_size):
                raise AccessorTransferFailedError(
                    f"{resource_identifier!r} changed while it was opened: {size} bytes, but"
                    f" {len(first)} at its start",
                    resource_identifier,
                )
        except BaseException:
            await close_quietly(handle, resource_identifier)
            raise
        start = cast(bytes, first)  # opened in binary mode
        return SFTPReader(
            self._loop, handle, size, resource_identifier, self.chunk_size, self.window, start
        )

    async def _open_writer(self, resource_identifier: str) -> SFTPWriter:
        sftp, root, path = await self._remote(resource_identifier)
        if path == root:
            raise AccessorResourceInvalidError(
                "cannot write to the root container", resource_identifier
            )
        folder = posixpath.dirname(path)
        folder_exists, _, is_container = await asyncio.gather(
            sftp.isdir(folder),
            self._check_resolved(sftp, root, folder, resource_identifier),
            sftp.isdir(path),
        )
        if not folder_exists:
            raise AccessorParentResourceNotFoundError(
                f"cannot write {resource_identifier!r}: its container does not exist",
                resource_identifier,
            )
        if is_container:
            raise AccessorResourceInvalidError(
                f"cannot write {resource_identifier!r}: it is a container", resource_identifier
            )
        temporary = posixpath.join(folder, temporary_name(posixpath.basename(path)))
        handle = await sftp.open(
            temporary,
            asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL,
            encoding=None,
        )
        return SFTPWriter(
            self._loop,
            sftp,
            handle,
            temporary,
            path,
            resource_identifier,
            self.chunk_size,
            self.window,
        )

    def put_files(self, files: Iterable[tuple[LocalPath, str]]) -> int:
        """Copy local files into the folder, ``concurrency`` files at a time.

        Each file is written to a temporary name, its size checked on the server and then
        renamed over its identifier; one file's round trips overlap with the others' data.
        Each target container is checked once (it exists, inside the folder).

        Args:
            files: ``(local path, resource identifier)`` pairs; the containers must exist.
        Returns:
            The number of bytes sent.
        Raises:
            AccessorResourceInvalidError: If an identifier escapes the folder or names the
                root; nothing is sent then.
            AccessorError: For the first file that fails, naming it; its temporary file is
                removed. The files already in flight are finished (each complete, or removed
                if it fails too); later ones are not started.
        """
        jobs = [
            (Path(local), identifier, split_identifier(identifier)) for local, identifier in files
        ]
        for _, identifier, parts in jobs:
            if not parts:
                raise AccessorResourceInvalidError("cannot write to the root container", identifier)
        if not jobs:
            return 0
        return int(self._run("write", jobs[0][1], self._put_files(jobs)))

    async def _put_files(self, jobs: Sequence[tuple[Path, str, tuple[str, ...]]]) -> int:
        sftp, root = await self._client()
        batch = [
            FileJob(local, posixpath.join(root, *parts), ident) for local, ident, parts in jobs
        ]
        return await put_files(sftp, batch, self._batch_settings(), self._confine(sftp, root))

    def get_files(self, files: Iterable[tuple[str, LocalPath]]) -> int:
        """Copy files from the folder to local paths, ``concurrency`` files at a time.

        Each local file is written under a temporary name and renamed once its size matches
        the remote file's.

        Args:
            files: ``(resource identifier, local path)`` pairs; local folders must exist.
        Returns:
            The number of bytes received.
        Raises:
            AccessorResourceInvalidError: If an identifier escapes the folder.
            AccessorError: For the first file that fails, naming it; its partial local file
                is removed. The files already in flight are finished (each complete, or
                removed if it fails too); later ones are not started.
        """
        jobs = [
            (Path(local), identifier, split_identifier(identifier)) for identifier, local in files
        ]
        if not jobs:
            return 0
        return int(self._run("read", jobs[0][1], self._get_files(jobs)))

    async def _get_files(self, jobs: Sequence[tuple[Path, str, tuple[str, ...]]]) -> int:
        sftp, root = await self._client()
        batch = [
            FileJob(local, posixpath.join(root, *parts), ident) for local, ident, parts in jobs
        ]
        return await get_files(sftp, batch, self._batch_settings(), self._confine(sftp, root))

    def _batch_settings(self) -> BatchSettings:
        return BatchSettings(self.concurrency, self.chunk_size, self.window)

    def _confine(self, sftp: SFTPClient, root: str) -> Confine:
        async def confine(path: str, resource_identifier: str) -> None:
            await self._check_resolved(sftp, root, path, resource_identifier)

        return confine

    def remove(self, resource_identifier: str) -> None:
        """Remove a file, an empty folder, or the present members of a sequence.

        Raises:
            AccessorResourceNotFoundError: If nothing has that name.
            AccessorContainerNotEmptyError: If the folder still has entries.
        """
        self._run("remove", resource_identifier, self._remove(resource_identifier))

    async def _remove(self, resource_identifier: str) -> None:
        if is_sequence_expression(resource_identifier):
            for member in await self._members(resource_identifier):
                await self._remove(member)
            return
        sftp, root, path = await self._remote(resource_identifier)
        if path == root:
            raise AccessorResourceInvalidError("cannot remove the root container", "")
        await self._check_resolved(sftp, root, posixpath.dirname(path), resource_identifier)
        try:
            attributes = await sftp.lstat(path)
        except asyncssh.SFTPNoSuchFile as error:
            raise AccessorResourceNotFoundError(
                f"cannot remove {resource_identifier!r}: it does not exist", resource_identifier
            ) from error
        if attributes.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
            try:
                await sftp.rmdir(path)
            except asyncssh.SFTPFailure as error:
                # SFTP v3 (OpenSSH) reports a non-empty folder as a generic failure.
                if [name for name in await sftp.listdir(path) if name not in (".", "..")]:
                    raise AccessorContainerNotEmptyError(
                        f"cannot remove {resource_identifier!r}: the container is not empty",
                        resource_identifier,
                    ) from error
                raise
        else:
            await sftp.remove(path)

    # Addresses ----------------------------------------------------------------------------

    def get_url(self, resource_identifier: str) -> str:
        """Return an ``sftp://`` URL (never with the password)."""
        path = self.get_filesystem_path(resource_identifier)
        user = f"{self.settings.username}@" if self.settings.username else ""
        return f"sftp://{user}{self.settings.hostname}:{self.settings.port}{path}"

    def get_filesystem_path(self, resource_identifier: str) -> str:
        """Return the absolute path of ``resource_identifier`` on the server."""
        parts = split_identifier(resource_identifier)
        _, root = self._run("connect", resource_identifier, self._client())
        return posixpath.join(root, *parts)
