"""Offset-independent paging: pages continue from the last id, and writes forget cursors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shotbase.server.batch import run_batch
from shotbase.server.page_cursors import PageCursors
from shotbase.server.state import ServerState, prepare_database
from shotbase.settings import Settings
from shotbase.store.accounts import Account, find_user

PAGE = "select name from Project offset {offset} limit 3"


class Server:
    """An in-process server state and the admin account."""

    def __init__(self, state: ServerState, account: Account) -> None:
        self.state, self.account = state, account

    def call(self, *operations: dict[str, Any]) -> list[Any]:
        outcome = run_batch(
            self.state, self.account, list(operations), base_url="http://test", options={}
        )
        return list(outcome.results)

    def page(self, offset: int) -> tuple[list[str], int | None]:
        result = self.call({"action": "query", "expression": PAGE.format(offset=offset)})[0]
        return [row["name"] for row in result["data"]], result["metadata"]["next"]["offset"]

    def create_projects(self, names: list[str]) -> None:
        schema = self.call({"action": "query", "expression": "select id from ProjectSchema"})
        schema_id = schema[0]["data"][0]["id"]
        self.call(
            *(
                {
                    "action": "create",
                    "entity_type": "Project",
                    "entity_data": {
                        "name": name,
                        "full_name": name,
                        "project_schema_id": schema_id,
                    },
                }
                for name in names
            )
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    state = ServerState.open(Settings(data=str(tmp_path)))
    prepare_database(state)
    with state.database.transaction(write=False) as connection:
        account = find_user(state.tables, connection, "admin")
    assert account is not None
    yield Server(state, account)
    state.close()


def all_names(server: Server) -> list[str]:
    names: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page, offset = server.page(offset)
        names.extend(page)
    return names


def test_paging_through_gives_every_entity_once_in_id_order(server: Server) -> None:
    server.create_projects([f"p{index:02d}" for index in range(10)])
    everything = server.call({"action": "query", "expression": "select name, id from Project"})
    expected = [row["name"] for row in sorted(everything[0]["data"], key=lambda row: row["id"])]

    first = all_names(server)
    again = all_names(server)

    assert first == again == expected
    assert len(server.state.page_cursors._entries) == 3


def test_a_cursor_is_used_instead_of_skipping_rows(server: Server) -> None:
    server.create_projects([f"p{index:02d}" for index in range(10)])
    ordered = all_names(server)
    cursors = server.state.page_cursors
    key = next(query for query, offset in cursors._entries if offset == 3)
    found = server.call({"action": "query", "expression": "select id, name from Project"})
    ids = {row["name"]: row["id"] for row in found[0]["data"]}
    # Point the cursor of offset 3 at the sixth project: the page follows it, proving the seek.
    cursors.remember(key, 3, ids[ordered[5]], cursors.version)

    assert server.page(3)[0] == ordered[6:9]


def test_a_write_forgets_cursors_so_offsets_stay_exact(server: Server) -> None:
    server.create_projects([f"p{index:02d}" for index in range(10)])
    all_names(server)
    version = server.state.page_cursors.version

    server.create_projects([f"new{uuid.uuid4().hex[:6]}" for _ in range(4)])

    assert server.state.page_cursors.version > version
    assert not server.state.page_cursors._entries
    everything = server.call({"action": "query", "expression": "select name, id from Project"})
    expected = [row["name"] for row in sorted(everything[0]["data"], key=lambda row: row["id"])]
    assert all_names(server) == expected


def test_ordered_queries_and_batches_with_writes_do_not_use_cursors(server: Server) -> None:
    server.create_projects([f"p{index:02d}" for index in range(6)])
    ordered = "select name from Project order by name offset {offset} limit 2"
    for offset in (0, 2, 4):
        server.call({"action": "query", "expression": ordered.format(offset=offset)})
    assert not server.state.page_cursors._entries

    schema = server.call({"action": "query", "expression": "select id from ProjectSchema"})
    create = {
        "action": "create",
        "entity_type": "Project",
        "entity_data": {
            "name": "inbatch",
            "full_name": "inbatch",
            "project_schema_id": schema[0]["data"][0]["id"],
        },
    }
    server.call(create, {"action": "query", "expression": PAGE.format(offset=0)})
    assert not server.state.page_cursors._entries


def test_page_cursors_forget_old_versions_and_keep_a_bounded_number() -> None:
    cursors = PageCursors(size=2)
    version = cursors.version
    cursors.forget_all()
    cursors.remember("q", 3, "stale", version)
    assert cursors.find("q", 3) is None

    for offset in (3, 6, 9):
        cursors.remember("q", offset, f"id{offset}", cursors.version)
    assert cursors.find("q", 3) is None
    assert cursors.find("q", 9) == "id9"
