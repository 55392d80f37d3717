"""SFTPAccessor.put_files/get_files against a real OpenSSH sshd: many files, same guarantees."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from shotbase.errors import (
    AccessorParentResourceNotFoundError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
)
from shotbase.storage.accessor.sftp import SFTPAccessor
from tests.sshd import SSHServer, mount_tmpfs

KIB = 1024
MIB = 1024 * KIB


@pytest.fixture
def small_chunks(sshd: SSHServer, sftp_folder: Path) -> Iterator[SFTPAccessor]:
    """An accessor with 64 KiB chunks, so that small test files span several chunks."""
    with SFTPAccessor(
        sshd.host,
        sshd.user,
        sshd.port,
        folder=str(sftp_folder),
        key_filename=sshd.client_key,
        known_hosts=sshd.known_hosts,
        chunk_size=64 * KIB,
        window=4,
        concurrency=4,
    ) as accessor:
        yield accessor


def local_files(folder: Path, sizes: dict[str, int]) -> dict[str, bytes]:
    folder.mkdir(exist_ok=True)
    contents = {name: os.urandom(size) for name, size in sizes.items()}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return contents


def test_many_files_go_up_and_come_back_whole(
    small_chunks: SFTPAccessor, sftp_folder: Path, tmp_path: Path
) -> None:
    sizes = {f"f{index:03d}.exr": (index * 37 * KIB) % (300 * KIB) for index in range(40)}
    contents = local_files(tmp_path / "up", sizes)
    small_chunks.make_container("plates")

    sent = small_chunks.put_files([(tmp_path / "up" / name, f"plates/{name}") for name in sizes])
    (tmp_path / "down").mkdir()
    received = small_chunks.get_files(
        [(f"plates/{name}", tmp_path / "down" / name) for name in sizes]
    )

    assert sent == received == sum(sizes.values())
    assert sorted(os.listdir(sftp_folder / "plates")) == sorted(sizes)
    assert sorted(os.listdir(tmp_path / "down")) == sorted(sizes)
    for name, data in contents.items():
        assert (sftp_folder / "plates" / name).read_bytes() == data
        assert (tmp_path / "down" / name).read_bytes() == data


def test_put_files_replaces_existing_files(sftp: SFTPAccessor, tmp_path: Path) -> None:
    local_files(tmp_path, {"a.bin": 10})
    sftp.put_files([(tmp_path / "a.bin", "a.bin")])
    (tmp_path / "a.bin").write_bytes(b"new")

    sftp.put_files([(tmp_path / "a.bin", "a.bin")])

    with sftp.open("a.bin", "rb") as handle:
        assert handle.read() == b"new"


@pytest.mark.parametrize("identifier", ["../outside.bin", "/etc/passwd", ""])
def test_put_files_refuses_bad_identifiers_before_sending_anything(
    sftp: SFTPAccessor, sftp_folder: Path, tmp_path: Path, identifier: str
) -> None:
    local_files(tmp_path, {"a.bin": 10})

    with pytest.raises(AccessorResourceInvalidError):
        sftp.put_files([(tmp_path / "a.bin", "a.bin"), (tmp_path / "a.bin", identifier)])
    assert list(sftp_folder.iterdir()) == []


def test_put_files_into_a_missing_container_names_it(
    sftp: SFTPAccessor, sftp_folder: Path, tmp_path: Path
) -> None:
    local_files(tmp_path, {"a.bin": 10})

    with pytest.raises(AccessorParentResourceNotFoundError, match="missing/a.bin"):
        sftp.put_files([(tmp_path / "a.bin", "a.bin"), (tmp_path / "a.bin", "missing/a.bin")])
    assert list(sftp_folder.iterdir()) == []


def test_put_files_through_a_symlink_leaving_the_folder_is_refused(
    sshd: SSHServer, sftp: SFTPAccessor, sftp_folder: Path, tmp_path: Path
) -> None:
    outside = sshd.make_folder("batch-outside")
    (sftp_folder / "link").symlink_to(outside)
    local_files(tmp_path, {"a.bin": 10})

    with pytest.raises(AccessorResourceInvalidError, match="symlink"):
        sftp.put_files([(tmp_path / "a.bin", "link/a.bin")])
    assert list(outside.iterdir()) == []


def test_missing_local_file_stops_the_batch_without_partial_files(
    small_chunks: SFTPAccessor, sftp_folder: Path, tmp_path: Path
) -> None:
    sizes = {f"f{index:02d}.bin": 200 * KIB for index in range(20)}
    local_files(tmp_path, sizes)
    files = [(tmp_path / name, name) for name in sizes]
    files.insert(5, (tmp_path / "missing.bin", "missing.bin"))

    with pytest.raises(AccessorResourceNotFoundError, match="missing.bin"):
        small_chunks.put_files(files)

    stored = os.listdir(sftp_folder)
    assert stored and len(stored) < 20 and all(name in sizes for name in stored)
    assert all((sftp_folder / name).stat().st_size == 200 * KIB for name in stored)


def test_full_disk_fails_the_batch_and_removes_partial_files(
    sftp: SFTPAccessor, sftp_folder: Path, tmp_path: Path
) -> None:
    (sftp_folder / "small").mkdir()
    mount_tmpfs(sftp_folder / "small", "1m")
    local_files(tmp_path, {f"f{index}.bin": 512 * KIB for index in range(6)})

    with pytest.raises(AccessorTransferFailedError, match=r"cannot write 'small/f\d.bin'"):
        sftp.put_files([(tmp_path / f"f{index}.bin", f"small/f{index}.bin") for index in range(6)])

    assert all(not name.startswith(".") for name in os.listdir(sftp_folder / "small"))
    for name in os.listdir(sftp_folder / "small"):
        assert (sftp_folder / "small" / name).stat().st_size == 512 * KIB


def test_missing_remote_file_leaves_no_partial_local_file(
    small_chunks: SFTPAccessor, tmp_path: Path
) -> None:
    local_files(tmp_path / "up", {"a.bin": 300 * KIB})
    small_chunks.put_files([(tmp_path / "up" / "a.bin", "a.bin")])
    (tmp_path / "down").mkdir()

    with pytest.raises(AccessorResourceNotFoundError, match="missing.bin"):
        small_chunks.get_files(
            [("a.bin", tmp_path / "down" / "a.bin"), ("missing.bin", tmp_path / "down" / "m")]
        )
    assert os.listdir(tmp_path / "down") in ([], ["a.bin"])


def test_get_files_through_a_symlink_leaving_the_folder_is_refused(
    sshd: SSHServer, sftp: SFTPAccessor, sftp_folder: Path, tmp_path: Path
) -> None:
    outside = sshd.make_folder("batch-secret")
    (outside / "secret.txt").write_bytes(b"secret")
    (sftp_folder / "secret.txt").symlink_to(outside / "secret.txt")

    with pytest.raises(AccessorResourceInvalidError, match="symlink"):
        sftp.get_files([("secret.txt", tmp_path / "secret.txt")])
    assert list(tmp_path.iterdir()) == []


def test_get_files_of_a_container_is_refused(sftp: SFTPAccessor, tmp_path: Path) -> None:
    sftp.make_container("folder")

    with pytest.raises(AccessorResourceInvalidError, match="container"):
        sftp.get_files([("folder", tmp_path / "folder")])
    assert list(tmp_path.iterdir()) == []


def test_batch_memory_stays_bounded(small_chunks: SFTPAccessor, tmp_path: Path) -> None:
    sizes = {f"f{index}.bin": 2 * MIB for index in range(12)}
    local_files(tmp_path / "up", sizes)
    (tmp_path / "down").mkdir()
    tracemalloc.start()
    try:
        small_chunks.put_files([(tmp_path / "up" / name, name) for name in sizes])
        small_chunks.get_files([(name, tmp_path / "down" / name) for name in sizes])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * MIB  # of 24 MiB each way: a bounded window, not whole files
