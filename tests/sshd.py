"""A real OpenSSH sshd on loopback for SFTP tests and the transfer benchmark (needs root)."""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SFTP_USER = "shotbase-sftp"
SFTP_PASSWORD = "shotbase-sftp-test-password"


@dataclass
class SSHServer:
    """A running sshd and the credentials to log in to it."""

    host: str
    port: int
    user: str
    password: str
    base: Path
    client_key: Path
    known_hosts: Path
    host_public_key: str
    process: subprocess.Popen[bytes]

    def make_folder(self, name: str, mode: int = 0o755) -> Path:
        """Create a folder under the server's base owned by the SFTP user."""
        folder = self.base / name
        folder.mkdir(mode=mode)
        folder.chmod(mode)
        entry = pwd.getpwnam(self.user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        return folder


def ensure_user(name: str = SFTP_USER, password: str = SFTP_PASSWORD) -> None:
    """Create the dedicated system user (once, safely across test workers) and set its password."""
    with open("/tmp/shotbase-sftp-user.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--create-home", "--shell", "/bin/sh", name],
                check=True,
                capture_output=True,
            )
        subprocess.run(
            ["chpasswd"], input=f"{name}:{password}\n".encode(), check=True, capture_output=True
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def start_sshd() -> SSHServer:
    """Start sshd on a free loopback port with fresh host and client keys."""
    ensure_user()
    base = Path(tempfile.mkdtemp(prefix="shotbase-sshd-"))
    base.chmod(0o755)
    host_public = _keygen(base / "host_key")
    client_public = _keygen(base / "client_key")
    authorized = base / "authorized_keys"
    authorized.write_text(client_public + "\n")
    authorized.chmod(0o644)
    port = _free_port()
    key_type, key_data = host_public.split()[:2]
    known_hosts = base / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_data}\n")
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {base / 'host_key'}",
                f"PidFile {base / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                f"AllowUsers {SFTP_USER}",
                "MaxStartups 100",
                "MaxSessions 100",
                "LogLevel ERROR",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    log = (base / "sshd.log").open("wb")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
    log.close()
    server = SSHServer(
        "127.0.0.1",
        port,
        SFTP_USER,
        SFTP_PASSWORD,
        base,
        base / "client_key",
        known_hosts,
        f"{key_type} {key_data}",
        process,
    )
    _wait_for_banner(server)
    return server


def _wait_for_banner(server: SSHServer) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with socket.create_connection((server.host, server.port), timeout=1) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    log = (server.base / "sshd.log").read_text(errors="replace")
    stop_sshd(server)
    raise RuntimeError(f"sshd did not start:\n{log}")


def stop_sshd(server: SSHServer) -> None:
    """Stop sshd, unmount anything mounted under its base and delete the base."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    for mount in sorted(_mounts_under(server.base), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    shutil.rmtree(server.base, ignore_errors=True)


def _mounts_under(base: Path) -> list[str]:
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return [point for point in points if point.startswith(str(base) + "/")]


def mount_tmpfs(folder: Path, size: str, owner: str = SFTP_USER) -> None:
    """Mount a small tmpfs on ``folder`` owned by ``owner`` (simulates a full disk)."""
    entry = pwd.getpwnam(owner)
    subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={size},uid={entry.pw_uid},gid={entry.pw_gid},mode=0755",
            "tmpfs",
            str(folder),
        ],
        check=True,
        capture_output=True,
    )
