"""SFTPAccessor against a real OpenSSH sshd: auth, confinement, failures, streaming."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from shotbase.errors import (
    AccessorConnectionError,
    AccessorContainerNotEmptyError,
    AccessorParentResourceNotFoundError,
    AccessorPermissionDeniedError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
)
from shotbase.storage.accessor.sftp import SFTPAccessor
from tests.conftest import free_port
from tests.sshd import SSHServer, mount_tmpfs

MIB = 1024 * 1024


def write(accessor: SFTPAccessor, identifier: str, data: bytes) -> None:
    with accessor.open(identifier, "wb") as handle:
        handle.write(data)


def read(accessor: SFTPAccessor, identifier: str) -> bytes:
    with accessor.open(identifier, "rb") as handle:
        return handle.read()


def test_key_login_writes_and_reads_back(sftp: SFTPAccessor, sftp_folder: Path) -> None:
    data = os.urandom(3 * MIB + 17)
    sftp.make_container("shots/sh010")
    write(sftp, "shots/sh010/plate.exr", data)

    assert read(sftp, "shots/sh010/plate.exr") == data
    assert (sftp_folder / "shots/sh010/plate.exr").read_bytes() == data
    assert sftp.list("shots") == ["shots/sh010"]
    assert sftp.is_file("shots/sh010/plate.exr") and sftp.is_container("shots")


def test_password_login_with_explicitly_trusted_host_key(
    sshd: SSHServer, sftp_folder: Path
) -> None:
    (sftp_folder / "hello.txt").write_bytes(b"hello")

    with SFTPAccessor(
        sshd.host,
        sshd.user,
        sshd.port,
        sshd.password,
        folder=str(sftp_folder),
        host_keys=[sshd.host_public_key],
    ) as accessor:
        assert read(accessor, "hello.txt") == b"hello"


def test_settings_come_from_the_ftrack_environment(sshd: SSHServer, sftp_folder: Path) -> None:
    environ = {
        "FTRACK_SFTP_ACCESSOR_HOSTNAME": sshd.host,
        "FTRACK_SFTP_ACCESSOR_PORT": str(sshd.port),
        "FTRACK_SFTP_ACCESSOR_USERNAME": sshd.user,
        "FTRACK_SFTP_ACCESSOR_PASSWORD": sshd.password,
        "FTRACK_SFTP_ACCESSOR_FOLDER": str(sftp_folder),
        "SHOTBASE_SFTP_KNOWN_HOSTS": str(sshd.known_hosts),
    }

    with SFTPAccessor(environ=environ) as accessor:
        assert accessor.list("") == []
        assert accessor.get_filesystem_path("a") == f"{sftp_folder}/a"


def test_folder_option_roots_each_accessor(sshd: SSHServer, sftp: SFTPAccessor) -> None:
    other = sshd.make_folder("other-root")
    write(sftp, "f.bin", b"first")

    with SFTPAccessor(
        sshd.host,
        sshd.user,
        sshd.port,
        sshd.password,
        folder=str(other),
        known_hosts=sshd.known_hosts,
    ) as accessor:
        assert not accessor.exists("f.bin")
        write(accessor, "f.bin", b"second")
    assert read(sftp, "f.bin") == b"first"


def test_wrong_password_is_a_connection_error(sshd: SSHServer) -> None:
    with SFTPAccessor(
        sshd.host, sshd.user, sshd.port, "wrong", known_hosts=sshd.known_hosts
    ) as accessor:
        with pytest.raises(AccessorConnectionError, match="refused: wrong password"):
            accessor.exists("x")


def test_closed_port_is_a_connection_error() -> None:
    with SFTPAccessor("127.0.0.1", "nobody", free_port(), "x", check_host_key=False) as accessor:
        with pytest.raises(AccessorConnectionError, match="cannot connect"):
            accessor.open("x", "rb")


def test_unknown_host_key_is_refused_by_default(sshd: SSHServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")

    with SFTPAccessor(
        sshd.host, sshd.user, sshd.port, sshd.password, known_hosts=empty
    ) as accessor:
        with pytest.raises(AccessorConnectionError, match="host key .* is not trusted"):
            accessor.exists("x")


def test_unwritable_folder_is_permission_denied_without_partial_file(
    sshd: SSHServer, sftp: SFTPAccessor, sftp_folder: Path
) -> None:
    locked = sftp_folder / "locked"
    locked.mkdir()
    locked.chmod(0o555)

    with pytest.raises(AccessorPermissionDeniedError):
        write(sftp, "locked/f.bin", b"data")
    assert list(locked.iterdir()) == []


def test_full_disk_is_a_transfer_error_without_partial_file(
    sftp: SFTPAccessor, sftp_folder: Path
) -> None:
    small = sftp_folder / "small"
    small.mkdir()
    mount_tmpfs(small, "1m")

    with pytest.raises(AccessorTransferFailedError, match="cannot write 'small/big.bin'"):
        write(sftp, "small/big.bin", os.urandom(4 * MIB))
    assert list(small.iterdir()) == []
    write(sftp, "small/fits.bin", b"ok")
    assert sftp.list("small") == ["small/fits.bin"]


def test_aborted_write_leaves_no_partial_file(sftp: SFTPAccessor, sftp_folder: Path) -> None:
    with pytest.raises(RuntimeError), sftp.open("f.bin", "wb") as handle:
        handle.write(os.urandom(2 * MIB))
        raise RuntimeError("source failed")

    assert list(sftp_folder.iterdir()) == []


def test_write_is_invisible_until_close(sftp: SFTPAccessor) -> None:
    handle = sftp.open("f.bin", "wb")
    handle.write(b"x" * MIB)

    assert not sftp.exists("f.bin")
    handle.close()
    assert sftp.list("") == ["f.bin"]


@pytest.mark.parametrize("identifier", ["../outside.bin", "/etc/passwd", "a/../../x"])
def test_escaping_identifiers_are_refused(sftp: SFTPAccessor, identifier: str) -> None:
    with pytest.raises(AccessorResourceInvalidError):
        sftp.open(identifier, "wb")
    with pytest.raises(AccessorResourceInvalidError):
        sftp.open(identifier, "rb")


def test_symlink_escaping_the_folder_is_refused(
    sshd: SSHServer, sftp: SFTPAccessor, sftp_folder: Path
) -> None:
    outside = sshd.make_folder("outside-target")
    (sftp_folder / "link").symlink_to(outside)

    with pytest.raises(AccessorResourceInvalidError, match="symlink"):
        write(sftp, "link/f.bin", b"escape")
    assert list(outside.iterdir()) == []


def test_missing_resources_and_parents_are_named(sftp: SFTPAccessor) -> None:
    with pytest.raises(AccessorResourceNotFoundError):
        sftp.open("missing.bin", "rb")
    with pytest.raises(AccessorParentResourceNotFoundError):
        sftp.open("missing/f.bin", "wb")
    with pytest.raises(AccessorParentResourceNotFoundError):
        sftp.make_container("a/b", recursive=False)
    with pytest.raises(AccessorResourceNotFoundError):
        sftp.remove("missing.bin")


def test_remove_files_folders_and_sequences(sftp: SFTPAccessor) -> None:
    sftp.make_container("seq")
    for index in (1, 2, 3):
        write(sftp, f"seq/f.{index:04d}.exr", b"frame")

    assert sftp.is_sequence("seq/f.%04d.exr")
    with pytest.raises(AccessorContainerNotEmptyError):
        sftp.remove("seq")
    sftp.remove("seq/f.%04d.exr")
    sftp.remove("seq")
    assert sftp.list("") == []


def test_large_file_streams_with_bounded_memory(sftp: SFTPAccessor) -> None:
    block = os.urandom(MIB)
    expected = hashlib.sha256()
    tracemalloc.start()
    try:
        with sftp.open("big.bin", "wb") as handle:
            for _ in range(64):
                handle.write(block)
                expected.update(block)
        received = hashlib.sha256()
        with sftp.open("big.bin", "rb") as handle:
            for chunk in iter(lambda: handle.read(MIB), b""):
                received.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert received.hexdigest() == expected.hexdigest()
    assert peak < 32 * MIB  # half the file: a bounded window, not the whole file


def test_url_names_user_host_and_path_but_no_password(sshd: SSHServer, sftp_folder: Path) -> None:
    with SFTPAccessor(
        sshd.host,
        sshd.user,
        sshd.port,
        sshd.password,
        folder=str(sftp_folder),
        known_hosts=sshd.known_hosts,
    ) as accessor:
        url = accessor.get_url("a/b.exr")

    assert url == f"sftp://{sshd.user}@{sshd.host}:{sshd.port}{sftp_folder}/a/b.exr"
