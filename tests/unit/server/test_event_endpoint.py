"""The event socket on the in-process app, where the server offers no frame writer."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette asks for httpx2 (not installed); its test client still works on httpx.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from shotbase.server.app import create_app
from shotbase.server.state import ServerState, prepare_database
from shotbase.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data=str(tmp_path))
    state = ServerState.open(settings)
    api_key = prepare_database(state)
    assert api_key is not None
    try:
        with TestClient(create_app(settings, state)) as http:
            yield http, {"ftrack-user": "admin", "ftrack-api-key": api_key}
    finally:
        state.close()


def socket(http: TestClient, headers: dict[str, str]) -> Any:
    sid = http.get("/socket.io/1/", headers=headers).text.split(":")[0]
    return http.websocket_connect(f"/socket.io/1/websocket/{sid}")


def event_packet(event: dict[str, Any], ack: str = "") -> str:
    return f"5:{ack}::" + json.dumps({"name": "ftrack.event", "args": [event]})


def test_events_go_through_asgi_sends_without_a_frame_writer(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    http, headers = client
    with socket(http, headers) as subscriber, socket(http, headers) as publisher:
        assert subscriber.receive_text() == "1::"
        assert publisher.receive_text() == "1::"
        data = {"subscriber": {"id": "s"}, "subscription": "topic=unit.t"}
        subscriber.send_text(event_packet({"topic": "ftrack.meta.subscribe", "data": data}, "1+"))
        assert subscriber.receive_text() == '6:::1+[{"success":true}]'

        for number in range(3):
            publisher.send_text(event_packet({"topic": "unit.t", "data": {"n": number}}))

        received = [json.loads(subscriber.receive_text()[4:])["args"][0] for _ in range(3)]
        assert [event["data"]["n"] for event in received] == [0, 1, 2]
        assert received[0]["source"]["user"]["username"] == "admin"
