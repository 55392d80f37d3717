"""socket.io 0.9 packet framing (PROTOCOL 7.3)."""

from __future__ import annotations

import orjson
import pytest

from shotbase.events.packet import (
    Packet,
    PacketType,
    ack_packet,
    error_packet,
    event_packet,
    parse_ack,
    parse_event_args,
    parse_packet,
)


def test_server_event_packet_has_no_id_and_no_endpoint() -> None:
    packet = event_packet({"topic": "t"})

    assert packet.startswith("5:::{")
    assert orjson.loads(packet[4:]) == {"name": "ftrack.event", "args": [{"topic": "t"}]}


def test_ack_packet_carries_an_array_with_one_object() -> None:
    assert ack_packet("12+", {"success": True}) == '6:::12+[{"success":true}]'


def test_error_packet_is_one_line() -> None:
    assert error_packet("bad\nthing") == "7:::bad thing"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2::", Packet(PacketType.HEARTBEAT)),
        ("2:::", Packet(PacketType.HEARTBEAT)),
        ("2", Packet(PacketType.HEARTBEAT)),
        ("5:3+::{}", Packet(PacketType.EVENT, "3+", "", "{}")),
        ("5:::a:b", Packet(PacketType.EVENT, "", "", "a:b")),
        ("0::", Packet(PacketType.DISCONNECT)),
    ],
    ids=["heartbeat-js", "heartbeat-python", "bare-heartbeat", "event-with-ack", "colons", "bye"],
)
def test_parse_packet_splits_on_the_first_three_colons(text: str, expected: Packet) -> None:
    assert parse_packet(text) == expected


@pytest.mark.parametrize("text", ["9::", "", "x", "5"], ids=["unknown", "empty", "junk", "bare"])
def test_parse_packet_refuses_unknown_or_truncated_packets(text: str) -> None:
    with pytest.raises(ValueError):
        parse_packet(text)


def test_ack_is_wanted_only_for_numeric_ids_with_a_plus() -> None:
    assert Packet(PacketType.EVENT, "7+").wants_ack
    assert Packet(PacketType.EVENT, "7+").ack_id == "7"
    assert not Packet(PacketType.EVENT, "7").wants_ack
    assert not Packet(PacketType.EVENT, "x+").wants_ack


def test_parse_event_args_reads_the_args_list() -> None:
    assert parse_event_args('{"name": "ftrack.event", "args": [{"topic": "t"}]}') == [
        {"topic": "t"}
    ]


@pytest.mark.parametrize("data", ["{", "[]", '{"args": {}}'], ids=["json", "array", "args"])
def test_parse_event_args_refuses_malformed_data(data: str) -> None:
    with pytest.raises(ValueError):
        parse_event_args(data)


def test_parse_ack_reads_id_and_arguments() -> None:
    assert parse_ack('4+[{"success":true}]') == (4, [{"success": True}])
    assert parse_ack("4") == (4, [])


@pytest.mark.parametrize("data", ["x+[]", "4+{", "4+{}"], ids=["id", "json", "not-array"])
def test_parse_ack_refuses_malformed_acks(data: str) -> None:
    with pytest.raises(ValueError):
        parse_ack(data)
