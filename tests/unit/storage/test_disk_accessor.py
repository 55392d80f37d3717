"""DiskAccessor on tmp_path: confinement, atomic writes and the accessor interface."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from shotbase.errors import (
    AccessorContainerNotEmptyError,
    AccessorParentResourceNotFoundError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorTransferFailedError,
)
from shotbase.storage.accessor import DiskAccessor
from shotbase.storage.accessor.base import LocalWriter


@pytest.fixture
def accessor(tmp_path: Path) -> DiskAccessor:
    (tmp_path / "root").mkdir()
    return DiskAccessor(tmp_path / "root")


def write(accessor: DiskAccessor, identifier: str, data: bytes) -> None:
    with accessor.open(identifier, "wb") as handle:
        handle.write(data)


def test_written_file_reads_back(accessor: DiskAccessor) -> None:
    accessor.make_container("a/b")
    write(accessor, "a/b/c.bin", b"x" * 100_000)

    with accessor.open("a/b/c.bin", "rb") as handle:
        assert handle.read() == b"x" * 100_000
    assert accessor.is_file("a/b/c.bin") and accessor.is_container("a/b")
    assert accessor.list("a") == ["a/b"]


def test_write_is_invisible_until_close(accessor: DiskAccessor) -> None:
    handle = accessor.open("f.bin", "wb")
    handle.write(b"partial")

    assert not accessor.exists("f.bin")
    handle.close()
    assert accessor.list("") == ["f.bin"]


def test_failed_write_leaves_no_partial_file(accessor: DiskAccessor) -> None:
    with pytest.raises(RuntimeError), accessor.open("f.bin", "wb") as handle:
        handle.write(b"partial")
        raise RuntimeError("source failed")

    assert accessor.list("") == []


def test_dropped_writer_removes_its_partial_file(accessor: DiskAccessor) -> None:
    handle = accessor.open("f.bin", "wb")
    handle.write(b"partial")
    del handle
    gc.collect()

    assert accessor.list("") == []


@pytest.mark.parametrize("identifier", ["../outside", "/etc/passwd", "a/../../x"])
def test_escaping_identifiers_are_refused(accessor: DiskAccessor, identifier: str) -> None:
    with pytest.raises(AccessorResourceInvalidError):
        accessor.open(identifier, "wb")


def test_symlink_escaping_the_prefix_is_refused(accessor: DiskAccessor, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (Path(accessor.prefix) / "link").symlink_to(tmp_path / "outside")

    with pytest.raises(AccessorResourceInvalidError, match="symlink"):
        accessor.open("link/f.bin", "wb")
    assert list((tmp_path / "outside").iterdir()) == []


def test_reading_a_missing_file_is_not_found(accessor: DiskAccessor) -> None:
    with pytest.raises(AccessorResourceNotFoundError):
        accessor.open("missing.bin", "rb")


def test_writing_into_a_missing_folder_names_the_parent(accessor: DiskAccessor) -> None:
    with pytest.raises(AccessorParentResourceNotFoundError):
        accessor.open("missing/f.bin", "wb")


def test_make_container_without_recursion_needs_the_parent(accessor: DiskAccessor) -> None:
    with pytest.raises(AccessorParentResourceNotFoundError):
        accessor.make_container("a/b", recursive=False)
    accessor.make_container("a", recursive=False)
    accessor.make_container("a", recursive=False)

    assert accessor.is_container("a")


def test_make_container_over_a_file_is_invalid(accessor: DiskAccessor) -> None:
    write(accessor, "f", b"")

    with pytest.raises(AccessorResourceInvalidError):
        accessor.make_container("f")


def test_get_container_returns_the_parent_identifier(accessor: DiskAccessor) -> None:
    assert accessor.get_container("a/b/c.exr") == "a/b"
    assert accessor.get_container("c.exr") == ""
    with pytest.raises(AccessorParentResourceNotFoundError):
        accessor.get_container("")


def test_remove_deletes_files_and_empty_folders_only(accessor: DiskAccessor) -> None:
    accessor.make_container("a")
    write(accessor, "a/f", b"1")

    with pytest.raises(AccessorContainerNotEmptyError):
        accessor.remove("a")
    accessor.remove("a/f")
    accessor.remove("a")
    with pytest.raises(AccessorResourceNotFoundError):
        accessor.remove("a")


def test_sequence_members_are_detected_and_removed(accessor: DiskAccessor) -> None:
    for index in (1, 2, 10):
        write(accessor, f"f.{index:04d}.exr", b"frame")
    write(accessor, "other.exr", b"")

    assert accessor.is_sequence("f.%04d.exr")
    accessor.remove("f.%04d.exr")
    assert accessor.list("") == ["other.exr"]
    assert not accessor.is_sequence("f.%04d.exr")
    accessor.remove("f.%04d.exr")


def test_list_of_a_file_is_invalid(accessor: DiskAccessor) -> None:
    write(accessor, "f", b"")

    with pytest.raises(AccessorResourceInvalidError):
        accessor.list("f")


def test_url_and_filesystem_path_stay_under_the_prefix(accessor: DiskAccessor) -> None:
    assert accessor.get_filesystem_path("a/b") == f"{accessor.prefix}/a/b"
    assert accessor.get_url("a/b") == f"file://{accessor.prefix}/a/b"


def test_unknown_mode_is_a_value_error(accessor: DiskAccessor) -> None:
    with pytest.raises(ValueError, match="expected mode"):
        accessor.open("f", "a")


def test_put_files_and_get_files_copy_many_files(accessor: DiskAccessor, tmp_path: Path) -> None:
    local, back = tmp_path / "local", tmp_path / "back"
    local.mkdir()
    back.mkdir()
    sizes = {"empty.bin": 0, "small.bin": 10, "big.bin": 3 * 1024 * 1024 + 5}
    for name, size in sizes.items():
        (local / name).write_bytes(os.urandom(size))
    accessor.make_container("shots")

    sent = accessor.put_files([(local / name, f"shots/{name}") for name in sizes])
    received = accessor.get_files([(f"shots/{name}", back / name) for name in sizes])

    assert sent == received == sum(sizes.values())
    for name in sizes:
        assert (back / name).read_bytes() == (local / name).read_bytes()
    assert sorted(os.listdir(back)) == sorted(sizes)


def test_put_files_stops_at_a_missing_local_file(accessor: DiskAccessor, tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"a")

    with pytest.raises(AccessorResourceNotFoundError, match="missing.bin"):
        accessor.put_files([(tmp_path / "a.bin", "a.bin"), (tmp_path / "missing.bin", "m.bin")])
    assert accessor.list("") == ["a.bin"]


def test_get_files_of_a_missing_file_leaves_no_local_file(
    accessor: DiskAccessor, tmp_path: Path
) -> None:
    write(accessor, "a.bin", b"a")
    (tmp_path / "back").mkdir()

    with pytest.raises(AccessorResourceNotFoundError):
        accessor.get_files([("a.bin", tmp_path / "back/a.bin"), ("missing", tmp_path / "back/m")])
    assert os.listdir(tmp_path / "back") == ["a.bin"]


def test_get_files_into_a_missing_local_folder_is_not_found(
    accessor: DiskAccessor, tmp_path: Path
) -> None:
    write(accessor, "a.bin", b"a")

    with pytest.raises(AccessorResourceNotFoundError, match="nowhere"):
        accessor.get_files([("a.bin", tmp_path / "nowhere" / "a.bin")])


def test_local_writer_refuses_a_size_other_than_the_source(tmp_path: Path) -> None:
    writer = LocalWriter(tmp_path / "f.bin")
    writer.write(b"abc")

    with pytest.raises(AccessorTransferFailedError, match="expected 4 bytes"):
        writer.publish(4)
    writer.discard()
    assert os.listdir(tmp_path) == []
