"""A real OpenSSH sshd on loopback, and SFTP accessors logged in to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shotbase.storage.accessor.sftp import SFTPAccessor
from tests.sshd import SSHServer, start_sshd, stop_sshd


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHServer]:
    """sshd with fresh host and client keys, a dedicated user, on a free port."""
    server = start_sshd()
    yield server
    stop_sshd(server)


@pytest.fixture
def sftp_folder(sshd: SSHServer) -> Path:
    """A fresh folder on the server, owned by the SFTP user."""
    return sshd.make_folder(f"data-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def sftp(sshd: SSHServer, sftp_folder: Path) -> Iterator[SFTPAccessor]:
    """An SFTP accessor logged in with the client key, rooted at ``sftp_folder``."""
    with SFTPAccessor(
        sshd.host,
        sshd.user,
        sshd.port,
        folder=str(sftp_folder),
        key_filename=sshd.client_key,
        known_hosts=sshd.known_hosts,
    ) as accessor:
        yield accessor
