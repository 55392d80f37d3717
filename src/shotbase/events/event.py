"""The event value and its wire form (PROTOCOL 7.4)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["WIRE_KEYS", "Event", "new_id"]

# The only top-level keys the official client accepts: any other key drops the event.
WIRE_KEYS = frozenset({"topic", "id", "data", "source", "target", "sent", "inReplyToEvent"})


def new_id() -> str:
    """A new event or subscriber id: 32 hex digits, as the official client makes them."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Event:
    """One event: a topic, a payload and where it comes from and goes to.

    The fields are fixed once made; ``data`` and ``source`` are plain dicts that handlers may
    read (and, as with the official client, change in place). :meth:`stop` asks the hub not to
    call handlers of lower priority.
    """

    topic: str
    data: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    id: str = field(default_factory=new_id)
    sent: Any = None
    in_reply_to_event: str | None = None
    _flags: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.topic, str) or not self.topic:
            raise ValueError(f"an event topic must be a non-empty string, got {self.topic!r}")

    def __getitem__(self, key: str) -> Any:
        """Read a field by its name, as handlers written for the official client do."""
        if key in ("inReplyToEvent", "in_reply_to_event"):
            return self.in_reply_to_event
        if key in WIRE_KEYS:
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """A field by name, or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def stop(self) -> None:
        """Stop handlers of lower priority from receiving this event."""
        self._flags["stopped"] = True

    def is_stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._flags.get("stopped", False)

    def with_changes(self, **changes: Any) -> Event:
        """A copy with some fields replaced (and not stopped)."""
        return replace(self, _flags={}, **changes)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent over the socket: exactly the keys the clients accept."""
        return {
            "topic": self.topic,
            "id": self.id,
            "data": self.data,
            "source": self.source,
            "target": self.target,
            "sent": self.sent,
            "inReplyToEvent": self.in_reply_to_event,
        }

    def candidate(self) -> dict[str, Any]:
        """The object a subscription expression is evaluated against."""
        wire = self.to_wire()
        wire["in_reply_to_event"] = self.in_reply_to_event
        return wire

    @classmethod
    def from_wire(cls, payload: Any) -> Event:
        """Read an event from its JSON object; unknown keys are ignored.

        Raises:
            ValueError: If ``payload`` is not an object with a topic, or a field has the
                wrong type.
        """
        if not isinstance(payload, Mapping):
            raise ValueError(f"an event must be a JSON object, got {type(payload).__name__}")
        topic = payload.get("topic")
        if not isinstance(topic, str) or not topic:
            raise ValueError("an event needs a non-empty string 'topic'")
        data = _object(payload, "data")
        source = _object(payload, "source")
        target = payload.get("target") or ""
        if not isinstance(target, str):
            raise ValueError("an event 'target' must be a string")
        reply = payload.get("inReplyToEvent", payload.get("in_reply_to_event"))
        if reply is not None and not isinstance(reply, str):
            raise ValueError("an event 'inReplyToEvent' must be a string or null")
        event_id = payload.get("id")
        if not isinstance(event_id, str) or not event_id:
            event_id = new_id()
        return cls(
            topic=topic,
            data=data,
            source=source,
            target=target,
            id=event_id,
            sent=payload.get("sent"),
            in_reply_to_event=reply,
        )


def _object(payload: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = payload.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"an event {name!r} must be a JSON object")
    return value
