"""Benchmark: file transfer through the accessors against the tools' own limits.

Starts a real OpenSSH sshd on loopback (as root, like the tests) and moves one large file and
many small files up and down through:

* **SFTPAccessor** - shotbase's pipelined asyncssh accessor, through ``open()`` streams;
* **OpenSSH sftp** - OpenSSH's own ``sftp -b`` client on the same sshd (the practical limit);
* **naive paramiko** - one request per chunk, waiting for each reply (how the existing ftrack
  SFTP accessor works); run on ``--naive-size`` only, as it is far slower;
* **DiskAccessor vs cp** - local copy through the disk accessor and through ``cp``.

Usage: ``.venv/bin/python bench/transfer.py [--size-mib 1024] [--count 1000]
[--naive-size-mib 64]``. Everything lives in a temp dir under /tmp and is deleted afterwards.
The goal: SFTPAccessor at least as fast as OpenSSH sftp both ways.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paramiko  # noqa: E402
from tests.sshd import SSHServer, start_sshd, stop_sshd  # noqa: E402

from shotbase.storage.accessor import DiskAccessor  # noqa: E402
from shotbase.storage.accessor.sftp import SFTPAccessor  # noqa: E402

logger = logging.getLogger("bench.transfer")
MIB = 1024 * 1024
CHUNK = MIB


def make_files(folder: Path, size: int, count: int) -> None:
    """Write the large file and the small files of random data."""
    (folder / "small").mkdir(parents=True)
    block = os.urandom(MIB)
    with (folder / "big.bin").open("wb") as handle:
        for _ in range(size // MIB):
            handle.write(block)
    for index in range(count):
        (folder / "small" / f"f{index:05d}.bin").write_bytes(os.urandom(MIB))


def copy_stream(read: Callable[[int], bytes], write: Callable[[bytes], object]) -> None:
    for chunk in iter(lambda: read(CHUNK), b""):
        write(chunk)


def accessor_upload(accessor: SFTPAccessor, local: Path, names: list[str], remote: str) -> None:
    accessor.make_container(remote)
    for name in names:
        with (local / name).open("rb") as source, accessor.open(f"{remote}/{name}", "wb") as target:
            copy_stream(source.read, target.write)


def accessor_download(accessor: SFTPAccessor, local: Path, names: list[str], remote: str) -> None:
    local.mkdir(parents=True, exist_ok=True)
    for name in names:
        with accessor.open(f"{remote}/{name}", "rb") as source, (local / name).open("wb") as target:
            copy_stream(source.read, target.write)


def openssh(server: SSHServer, commands: list[str]) -> None:
    batch = "\n".join(commands) + "\n"
    subprocess.run(
        [
            "sftp", "-q", "-b", "-", "-i", str(server.client_key), "-P", str(server.port),
            "-o", f"UserKnownHostsFile={server.known_hosts}", "-o", "BatchMode=yes",
            f"{server.user}@{server.host}",
        ],
        input=batch.encode(), check=True, capture_output=True,
    )  # fmt: skip


def naive_paramiko(server: SSHServer, local: Path, remote: Path, upload: bool) -> None:
    transport = paramiko.Transport((server.host, server.port))
    transport.connect(username=server.user, password=server.password)
    client = paramiko.SFTPClient.from_transport(transport)
    assert client is not None
    try:
        if upload:
            with local.open("rb") as source, client.open(str(remote), "wb") as target:
                copy_stream(source.read, target.write)
        else:
            with client.open(str(remote), "rb") as source, local.open("wb") as target:
                copy_stream(source.read, target.write)
    finally:
        client.close()
        transport.close()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> list[tuple[str, str, int, float]]:
    size, count, naive_size = args.size_mib * MIB, args.count, args.naive_size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="shotbase-bench-", dir="/tmp"))
    server = start_sshd()
    rows: list[tuple[str, str, int, float]] = []
    try:
        make_files(work / "src", size, count)
        small = sorted(path.name for path in (work / "src" / "small").iterdir())
        remote = server.make_folder("bench")
        accessor = SFTPAccessor(
            server.host, server.user, server.port, server.password, folder=str(remote),
            known_hosts=server.known_hosts,
        )  # fmt: skip
        accessor.exists("")  # connect outside the timings (OpenSSH's login is timed, though)
        src, down = work / "src", work / "down"
        cases: list[tuple[str, str, int, Callable[[], object]]] = [
            ("SFTPAccessor", "up 1 file", size,
             lambda: accessor_upload(accessor, src, ["big.bin"], "a")),
            ("SFTPAccessor", "down 1 file", size,
             lambda: accessor_download(accessor, down / "a", ["big.bin"], "a")),
            ("SFTPAccessor", f"up {count} files", count * MIB,
             lambda: accessor_upload(accessor, src / "small", small, "as")),
            ("SFTPAccessor", f"down {count} files", count * MIB,
             lambda: accessor_download(accessor, down / "as", small, "as")),
            ("OpenSSH sftp", "up 1 file", size,
             lambda: openssh(server, [f"put {src}/big.bin {remote}/o.bin"])),
            ("OpenSSH sftp", "down 1 file", size,
             lambda: openssh(server, [f"get {remote}/o.bin {work}/o.bin"])),
            ("OpenSSH sftp", f"up {count} files", count * MIB,
             lambda: openssh(server, [f"mkdir {remote}/os", f"put {src}/small/* {remote}/os/"])),
            ("OpenSSH sftp", f"down {count} files", count * MIB,
             lambda: openssh(server, [f"lmkdir {down}/os", f"get {remote}/os/* {down}/os/"])),
            ("naive paramiko", "up 1 file", naive_size,
             lambda: naive_paramiko(server, src / "naive.bin", remote / "n.bin", True)),
            ("naive paramiko", "down 1 file", naive_size,
             lambda: naive_paramiko(server, work / "n.bin", remote / "n.bin", False)),
        ]  # fmt: skip
        with (src / "naive.bin").open("wb") as handle:
            handle.write(os.urandom(naive_size))
        disk_target = DiskAccessor(work / "disk")
        cases += [
            ("DiskAccessor", "copy 1 file", size,
             lambda: disk_copy(disk_target, src, ["big.bin"], "d")),
            ("cp", "copy 1 file", size,
             lambda: subprocess.run(["cp", src / "big.bin", work / "cp.bin"], check=True)),
            ("DiskAccessor", f"copy {count} files", count * MIB,
             lambda: disk_copy(disk_target, src / "small", small, "ds")),
            ("cp", f"copy {count} files", count * MIB,
             lambda: subprocess.run(["cp", "-r", src / "small", work / "cps"], check=True)),
        ]  # fmt: skip
        for tool, case, nbytes, action in cases:
            os.sync()
            seconds = timed(action)
            rows.append((tool, case, nbytes, seconds))
            logger.info("%-15s %-18s %8.1f MB/s", tool, case, nbytes / seconds / 1e6)
        accessor.close()
    finally:
        stop_sshd(server)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def disk_copy(accessor: DiskAccessor, local: Path, names: list[str], folder: str) -> None:
    accessor.make_container(folder)
    for name in names:
        with (local / name).open("rb") as source, accessor.open(f"{folder}/{name}", "wb") as target:
            copy_stream(source.read, target.write)


def render(rows: list[tuple[str, str, int, float]]) -> str:
    speed = {(tool, case): nbytes / seconds / 1e6 for tool, case, nbytes, seconds in rows}
    lines = [
        f"{dt.date.today()} on {platform.node()} ({os.cpu_count()} cores, {platform.machine()},"
        f" Python {platform.python_version()})",
        "",
        "| Tool | Case | MiB | Seconds | MB/s | vs OpenSSH sftp / cp |",
        "|---|---|---|---|---|---|",
    ]
    for tool, case, nbytes, seconds in rows:
        reference = "cp" if tool in ("DiskAccessor", "cp") else "OpenSSH sftp"
        base = speed.get((reference, case))
        ratio = f"{speed[(tool, case)] / base:.2f}x" if base else "-"
        lines.append(
            f"| {tool} | {case} | {nbytes // MIB} | {seconds:.2f} | {speed[(tool, case)]:.1f}"
            f" | {ratio} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the large file")
    parser.add_argument("--count", type=int, default=1000, help="number of 1 MiB files")
    parser.add_argument("--naive-size-mib", type=int, default=64, help="naive paramiko size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    logger.info("%s", render(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
