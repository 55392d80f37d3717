"""The ``shotbase`` command: first start, users and keys, bad settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import start_server, stop_server


def shotbase(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shotbase.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def whoami(url: str, user: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api",
        json=[{"action": "query_server_information"}],
        headers={"ftrack-user": user, "ftrack-api-key": key, "ftrack-strict-api": "true"},
    )


def test_first_start_prints_the_admin_key_and_later_starts_do_not(
    tmp_path: Path, database_url: str
) -> None:
    first = start_server(tmp_path, database_url)
    stop_server(first)
    assert first.api_key
    second = start_server(tmp_path, database_url)
    try:
        assert second.api_key == ""
        assert whoami(second.url, "admin", first.api_key).status_code == 200
    finally:
        stop_server(second)


def test_user_create_and_key_print_working_keys(tmp_path: Path, database_url: str) -> None:
    created = shotbase("user", "create", "ana", "--data", str(tmp_path), "--database", database_url)
    assert created.returncode == 0, created.stderr
    first_key = created.stdout.strip()
    issued = shotbase("user", "key", "ana", "--data", str(tmp_path), "--database", database_url)
    assert issued.returncode == 0, issued.stderr
    second_key = issued.stdout.strip()
    assert second_key and "\n" not in second_key and second_key != first_key
    server = start_server(tmp_path, database_url)
    try:
        for key in (first_key, second_key):
            answer = whoami(server.url, "ana", key)
            assert answer.status_code == 200
            assert answer.json()[0]["user_information"]["username"] == "ana"
        assert whoami(server.url, "ana", "wrong").status_code == 401
    finally:
        stop_server(server)


def test_user_create_refuses_an_existing_name(tmp_path: Path, database_url: str) -> None:
    arguments = ("--data", str(tmp_path), "--database", database_url)
    assert shotbase("user", "create", "ben", *arguments).returncode == 0
    again = shotbase("user", "create", "ben", *arguments)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_user_key_for_an_unknown_user_fails_clearly(tmp_path: Path, database_url: str) -> None:
    result = shotbase("user", "key", "nobody", "--data", str(tmp_path), "--database", database_url)
    assert result.returncode == 1
    assert "No User" in result.stderr
    assert result.stdout == ""


def test_unsupported_database_url_is_refused_by_name(tmp_path: Path) -> None:
    result = shotbase("user", "key", "x", "--data", str(tmp_path), "--database", "mysql://x/y")
    assert result.returncode == 1
    assert "sqlite:///" in result.stderr and "Traceback" not in result.stderr


def test_invalid_environment_value_names_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shotbase.cli", "serve", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "SHOTBASE_PORT": "ten"},
    )
    assert result.returncode == 1
    assert "SHOTBASE_PORT='ten' is not a valid int" in result.stderr
