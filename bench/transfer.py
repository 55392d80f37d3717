"""Benchmark: file transfer through the accessors against the tools' own limits.

Starts a real OpenSSH sshd on loopback (as root, like the tests) and moves one large file and
many small files up and down through:

* **SFTPAccessor batch** - shotbase's pipelined asyncssh accessor, many files at once through
  ``put_files``/``get_files`` (what a location adding a 1,000-frame sequence uses);
* **SFTPAccessor open()** - the same accessor, one ``open()`` stream per file, one file after
  the other;
* **OpenSSH sftp** - OpenSSH's own ``sftp -b`` client on the same sshd (the practical limit),
  with its default cipher (chacha20-poly1305 here) and, in group ``gcm``, with
  aes128-gcm, the cipher SFTPAccessor picks (faster on CPUs with AES instructions);
* **naive paramiko** - one request per chunk, waiting for each reply (how the existing ftrack
  SFTP accessor works); run on ``--naive-size`` only, as it is far slower;
* **DiskAccessor vs cp** - local copy through the disk accessor and through ``cp``.

Usage: ``.venv/bin/python bench/transfer.py [--size-mib 1024] [--count 1000]
[--naive-size-mib 64] [--repeat 3] [--groups big,small,batch,gcm,naive,disk]``. Every case runs
``--repeat`` times (the cases of one round one after the other, so that load on a shared
machine hits them alike); the table shows the median and the spread. Everything lives in a
temp dir under /tmp and is deleted afterwards. The goal: SFTPAccessor at least as fast as
OpenSSH sftp both ways.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
GROUPS = ("big", "small", "batch", "gcm", "naive", "disk")
GCM = "aes128-gcm@openssh.com"
SFTP_GCM = "OpenSSH sftp aes128-gcm"


@dataclass
class Case:
    """One measured transfer; ``run`` and ``cleanup`` take the round number."""

    group: str
    tool: str
    case: str
    nbytes: int
    run: Callable[[int], object]
    cleanup: Callable[[int], object] | None = None
    seconds: list[float] = field(default_factory=list)


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


def batch_upload(accessor: SFTPAccessor, local: Path, names: list[str], remote: str) -> None:
    accessor.make_container(remote)
    accessor.put_files([(local / name, f"{remote}/{name}") for name in names])


def batch_download(accessor: SFTPAccessor, local: Path, names: list[str], remote: str) -> None:
    local.mkdir(parents=True, exist_ok=True)
    accessor.get_files([(f"{remote}/{name}", local / name) for name in names])


def openssh(server: SSHServer, commands: list[str], cipher: str | None = None) -> None:
    batch = "\n".join(commands) + "\n"
    subprocess.run(
        [
            "sftp", "-q", "-b", "-", "-i", str(server.client_key), "-P", str(server.port),
            *(["-c", cipher] if cipher else []),
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


def disk_copy(accessor: DiskAccessor, local: Path, names: list[str], folder: str) -> None:
    accessor.make_container(folder)
    for name in names:
        with (local / name).open("rb") as source, accessor.open(f"{folder}/{name}", "wb") as target:
            copy_stream(source.read, target.write)


def remover(*paths: Callable[[int], Path]) -> Callable[[int], None]:
    """A cleanup that deletes the files or folders a round wrote (not the sources)."""

    def cleanup(index: int) -> None:
        for path in paths:
            target = path(index)
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)

    return cleanup


def build_cases(
    args: argparse.Namespace, server: SSHServer, accessor: SFTPAccessor, work: Path
) -> list[Case]:
    """Every case of the selected groups; round 0 of each upload is the source of downloads."""
    size, count, naive_size = args.size_mib * MIB, args.count, args.naive_size_mib * MIB
    remote = server.base / "bench"
    src, down = work / "src", work / "down"
    small = sorted(path.name for path in (src / "small").iterdir())
    files = f"{count} files"

    def keep_first(path: Callable[[int], Path]) -> Callable[[int], Path]:
        return lambda i: path(i) if i else work / "missing"

    cases = [
        Case("big", "SFTPAccessor open()", "up 1 file", size,
             lambda i: accessor_upload(accessor, src, ["big.bin"], f"a{i}"),
             remover(keep_first(lambda i: remote / f"a{i}"))),
        Case("big", "SFTPAccessor open()", "down 1 file", size,
             lambda i: accessor_download(accessor, down / f"a{i}", ["big.bin"], "a0"),
             remover(lambda i: down / f"a{i}")),
        Case("big", "OpenSSH sftp", "up 1 file", size,
             lambda i: openssh(server, [f"put {src}/big.bin {remote}/o{i}.bin"]),
             remover(keep_first(lambda i: remote / f"o{i}.bin"))),
        Case("big", "OpenSSH sftp", "down 1 file", size,
             lambda i: openssh(server, [f"get {remote}/o0.bin {work}/o{i}.bin"]),
             remover(lambda i: work / f"o{i}.bin")),
        Case("batch", "SFTPAccessor batch", "up 1 file", size,
             lambda i: batch_upload(accessor, src, ["big.bin"], f"bb{i}"),
             remover(keep_first(lambda i: remote / f"bb{i}"))),
        Case("batch", "SFTPAccessor batch", "down 1 file", size,
             lambda i: batch_download(accessor, down / f"bb{i}", ["big.bin"], "bb0"),
             remover(lambda i: down / f"bb{i}")),
        Case("batch", "SFTPAccessor batch", f"up {files}", count * MIB,
             lambda i: batch_upload(accessor, src / "small", small, f"b{i}"),
             remover(keep_first(lambda i: remote / f"b{i}"))),
        Case("batch", "SFTPAccessor batch", f"down {files}", count * MIB,
             lambda i: batch_download(accessor, down / f"b{i}", small, "b0"),
             remover(lambda i: down / f"b{i}")),
        Case("small", "SFTPAccessor open()", f"up {files}", count * MIB,
             lambda i: accessor_upload(accessor, src / "small", small, f"s{i}"),
             remover(keep_first(lambda i: remote / f"s{i}"))),
        Case("small", "SFTPAccessor open()", f"down {files}", count * MIB,
             lambda i: accessor_download(accessor, down / f"s{i}", small, "s0"),
             remover(lambda i: down / f"s{i}")),
        Case("small", "OpenSSH sftp", f"up {files}", count * MIB,
             lambda i: openssh(server, [f"mkdir {remote}/os{i}",
                                        f"put {src}/small/* {remote}/os{i}/"]),
             remover(keep_first(lambda i: remote / f"os{i}"))),
        Case("small", "OpenSSH sftp", f"down {files}", count * MIB,
             lambda i: openssh(server, [f"lmkdir {down}/os{i}",
                                        f"get {remote}/os0/* {down}/os{i}/"]),
             remover(lambda i: down / f"os{i}")),
        Case("gcm", SFTP_GCM, "up 1 file", size,
             lambda i: openssh(server, [f"put {src}/big.bin {remote}/g{i}.bin"], GCM),
             remover(keep_first(lambda i: remote / f"g{i}.bin"))),
        Case("gcm", SFTP_GCM, "down 1 file", size,
             lambda i: openssh(server, [f"get {remote}/g0.bin {work}/g{i}.bin"], GCM),
             remover(lambda i: work / f"g{i}.bin")),
        Case("gcm", SFTP_GCM, f"up {files}", count * MIB,
             lambda i: openssh(server, [f"mkdir {remote}/gs{i}",
                                        f"put {src}/small/* {remote}/gs{i}/"], GCM),
             remover(keep_first(lambda i: remote / f"gs{i}"))),
        Case("gcm", SFTP_GCM, f"down {files}", count * MIB,
             lambda i: openssh(server, [f"lmkdir {down}/gs{i}",
                                        f"get {remote}/gs0/* {down}/gs{i}/"], GCM),
             remover(lambda i: down / f"gs{i}")),
        Case("naive", "naive paramiko", "up 1 file", naive_size,
             lambda i: naive_paramiko(server, src / "naive.bin", remote / "n.bin", True)),
        Case("naive", "naive paramiko", "down 1 file", naive_size,
             lambda i: naive_paramiko(server, work / "n.bin", remote / "n.bin", False)),
    ]  # fmt: skip
    disk_target = DiskAccessor(work / "disk")
    cases += [
        Case("disk", "DiskAccessor", "copy 1 file", size,
             lambda i: disk_copy(disk_target, src, ["big.bin"], f"d{i}"),
             remover(lambda i: work / "disk" / f"d{i}")),
        Case("disk", "cp", "copy 1 file", size,
             lambda i: subprocess.run(["cp", src / "big.bin", work / f"cp{i}.bin"], check=True),
             remover(lambda i: work / f"cp{i}.bin")),
        Case("disk", "DiskAccessor", f"copy {files}", count * MIB,
             lambda i: disk_copy(disk_target, src / "small", small, f"ds{i}"),
             remover(lambda i: work / "disk" / f"ds{i}")),
        Case("disk", "cp", f"copy {files}", count * MIB,
             lambda i: subprocess.run(["cp", "-r", src / "small", work / f"cps{i}"], check=True),
             remover(lambda i: work / f"cps{i}")),
    ]  # fmt: skip
    return [case for case in cases if case.group in args.groups]


def run(args: argparse.Namespace) -> list[Case]:
    server = start_sshd()
    work = Path(tempfile.mkdtemp(prefix="shotbase-bench-", dir="/tmp"))
    try:
        groups = set(args.groups)
        big = groups & {"big", "batch", "gcm", "disk"}
        make_files(work / "src", args.size_mib * MIB if big else 0, args.count)
        if "naive" in groups:
            with (work / "src" / "naive.bin").open("wb") as handle:
                handle.write(os.urandom(args.naive_size_mib * MIB))
        server.make_folder("bench")
        accessor = SFTPAccessor(
            server.host, server.user, server.port, server.password,
            folder=str(server.base / "bench"), known_hosts=server.known_hosts,
        )  # fmt: skip
        accessor.exists("")  # connect outside the timings (OpenSSH's login is timed, though)
        cases = build_cases(args, server, accessor, work)
        for index in range(args.repeat):
            for case in cases:
                os.sync()
                case.seconds.append(timed(case.run, index))
                logger.info(
                    "round %d %-20s %-18s %8.1f MB/s",
                    index + 1, case.tool, case.case, case.nbytes / case.seconds[-1] / 1e6,
                )  # fmt: skip
            # Delete after the round, so that every round writes into the same free space.
            for case in reversed(cases):
                if case.cleanup is not None:
                    case.cleanup(index)
        accessor.close()
    finally:
        stop_sshd(server)
        shutil.rmtree(work, ignore_errors=True)
    return cases


def timed(action: Callable[[int], object], index: int) -> float:
    start = time.perf_counter()
    action(index)
    return time.perf_counter() - start


def render(cases: list[Case], repeat: int) -> str:
    speed = {(c.tool, c.case): c.nbytes / statistics.median(c.seconds) / 1e6 for c in cases}
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    lines = [
        f"{dt.date.today()} on {platform.node()} ({os.cpu_count()} cores, {model},"
        f" Python {platform.python_version()}); median of {repeat} runs",
        "",
        "| Tool | Case | MiB | Median s | MB/s | MB/s min-max | vs OpenSSH sftp / cp |"
        " vs sftp aes128-gcm |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        key = (case.tool, case.case)
        reference = "cp" if case.group == "disk" else "OpenSSH sftp"
        base = speed.get((reference, case.case))
        ratio = f"{speed[key] / base:.2f}x" if base else "-"
        gcm = speed.get((SFTP_GCM, case.case)) if case.group != "disk" else None
        gcm_ratio = f"{speed[key] / gcm:.2f}x" if gcm else "-"
        rates = [case.nbytes / seconds / 1e6 for seconds in case.seconds]
        lines.append(
            f"| {case.tool} | {case.case} | {case.nbytes // MIB} |"
            f" {statistics.median(case.seconds):.2f} | {speed[key]:.1f} |"
            f" {min(rates):.0f}-{max(rates):.0f} | {ratio} | {gcm_ratio} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the large file")
    parser.add_argument("--count", type=int, default=1000, help="number of 1 MiB files")
    parser.add_argument("--naive-size-mib", type=int, default=64, help="naive paramiko size")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (median)")
    parser.add_argument(
        "--groups",
        type=lambda text: [part for part in text.split(",") if part],
        default=list(GROUPS),
        help=f"comma-separated case groups among {','.join(GROUPS)}",
    )
    args = parser.parse_args()
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups {sorted(unknown)}; expected some of {list(GROUPS)}")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    logger.info("%s", render(run(args), args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
