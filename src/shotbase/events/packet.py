"""socket.io 0.9 packet framing (PROTOCOL 7.3), shared by the server endpoint and the client.

A packet is ``type:id:endpoint:data``. Events travel as ``5`` packets named ``ftrack.event``
whose ``args`` hold exactly one event object; acknowledgements are ``6:::<id>+[<object>]``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "CONNECT",
    "DISCONNECT",
    "EVENT_NAME",
    "HEARTBEAT",
    "Packet",
    "PacketType",
    "ack_packet",
    "encode_event_packet",
    "error_packet",
    "event_packet",
    "parse_ack",
    "parse_event_args",
    "parse_packet",
]

EVENT_NAME = "ftrack.event"


class PacketType(enum.Enum):
    """The socket.io 0.9 packet types."""

    DISCONNECT = "0"
    CONNECT = "1"
    HEARTBEAT = "2"
    MESSAGE = "3"
    JSON = "4"
    EVENT = "5"
    ACK = "6"
    ERROR = "7"
    NOOP = "8"


DISCONNECT = "0::"
CONNECT = "1::"
HEARTBEAT = "2::"


@dataclass(frozen=True, slots=True)
class Packet:
    """One received packet; ``id`` keeps its trailing ``+`` when an ack is wanted."""

    type: PacketType
    id: str = ""
    endpoint: str = ""
    data: str = ""

    @property
    def wants_ack(self) -> bool:
        """Whether the sender asked for an acknowledgement."""
        return self.id.endswith("+") and self.id[:-1].isdigit()

    @property
    def ack_id(self) -> str:
        """The id to acknowledge, without its ``+``."""
        return self.id.rstrip("+")


def parse_packet(text: str) -> Packet:
    """Split a packet into its parts.

    Raises:
        ValueError: If the text is not a socket.io 0.9 packet of a known type.
    """
    parts = text.split(":", 3)
    try:
        kind = PacketType(parts[0])
    except ValueError:
        raise ValueError(f"unknown packet type {parts[0][:8]!r}") from None
    if len(parts) == 1 and kind is not PacketType.HEARTBEAT:
        raise ValueError(f"packet {text[:40]!r} has no id and endpoint")
    parts += [""] * (4 - len(parts))
    return Packet(kind, parts[1], parts[2], parts[3])


def event_packet(event: dict[str, Any], packet_id: str = "") -> str:
    """An event packet carrying ``event``; the server always sends it without an id."""
    body = orjson.dumps({"name": EVENT_NAME, "args": [event]}).decode()
    return f"5:{packet_id}::{body}"


def encode_event_packet(event: dict[str, Any]) -> bytes:
    """The UTF-8 bytes of ``event_packet(event)``, as the server sends it to subscribers."""
    return b"5:::" + orjson.dumps({"name": EVENT_NAME, "args": [event]})


def ack_packet(packet_id: str, payload: dict[str, Any]) -> str:
    """The acknowledgement of packet ``packet_id`` (a JSON array holding one object)."""
    return f"6:::{packet_id.rstrip('+')}+{orjson.dumps([payload]).decode()}"


def error_packet(reason: str) -> str:
    """An error packet; the reason has no newlines."""
    return "7:::" + reason.replace("\n", " ")


def parse_event_args(data: str) -> list[Any]:
    """The ``args`` of an event packet's data.

    Raises:
        ValueError: If the data is not ``{"name": ..., "args": [...]}``.
    """
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"event packet data is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("args"), list):
        raise ValueError("event packet data must be an object with an 'args' list")
    args: list[Any] = body["args"]
    return args


def parse_ack(data: str) -> tuple[int, list[Any]]:
    """The acknowledged packet id and the acknowledgement's arguments.

    Raises:
        ValueError: If the data is not ``<id>+[...]`` or ``<id>``.
    """
    number, _, rest = data.partition("+")
    if not number.isdigit():
        raise ValueError(f"ack data {data[:40]!r} does not start with a packet id")
    if not rest:
        return int(number), []
    try:
        args = orjson.loads(rest)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"ack arguments are not JSON: {exc}") from None
    if not isinstance(args, list):
        raise ValueError("ack arguments must be a JSON array")
    return int(number), args
