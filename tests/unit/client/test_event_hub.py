"""Our client's event hub without a server: local handling, priorities, subscribers."""

from __future__ import annotations

from typing import Any

import pytest

from shotbase.client.event_hub import EventHub, EventHubConnectionError, is_local_topic
from shotbase.events import Event


@pytest.fixture
def hub() -> EventHub:
    return EventHub("http://127.0.0.1:9", "ana", "key")


def test_synchronous_publish_runs_handlers_by_priority_until_stopped(hub: EventHub) -> None:
    calls: list[str] = []

    def stopper(event: Event) -> str:
        calls.append("stopper")
        event.stop()
        return "stopped"

    hub.subscribe("topic=t", lambda event: calls.append("last"), priority=300)
    hub.subscribe("topic=t", stopper, priority=200)

    def first(event: Event) -> str:
        calls.append("first")
        return "one"

    hub.subscribe("topic=t", first, priority=1)

    assert hub.publish(Event("t"), synchronous=True) == ["one", "stopped"]
    assert calls == ["first", "stopper"]


def test_local_topics_are_handled_without_a_connection(hub: EventHub) -> None:
    hub.subscribe("topic=ftrack.api.session.ready", lambda event: event.source["user"])

    assert hub.publish(Event("ftrack.api.session.ready")) == [{"username": "ana"}]
    assert is_local_topic("shotbase.session.configure-location")
    assert not is_local_topic("ftrack.update")


def test_targets_select_subscribers_by_metadata(hub: EventHub) -> None:
    hub.subscribe("topic=t", lambda event: "render", {"id": "r", "role": "render"})
    hub.subscribe("topic=t", lambda event: "ui", {"id": "u", "role": "ui"})

    assert hub.publish(Event("t", target="role=ui"), synchronous=True) == ["ui"]
    assert hub.publish(Event("t", target="((("), synchronous=True) == []


def test_failing_handler_does_not_stop_the_others(hub: EventHub) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    hub.subscribe("topic=t", broken, priority=1)
    hub.subscribe("topic=t", lambda event: "fine", priority=2)

    assert hub.publish(Event("t"), synchronous=True) == [None, "fine"]


def test_subscriber_ids_are_unique_and_subscriptions_must_parse(hub: EventHub) -> None:
    hub.subscribe("topic=t", print, {"id": "same"})

    with pytest.raises(ValueError, match="already exists"):
        hub.subscribe("topic=u", print, {"id": "same"})
    with pytest.raises(ValueError, match="cannot parse"):
        hub.subscribe("topic", print)
    with pytest.raises(ValueError, match="No subscriber"):
        hub.unsubscribe("missing")


def test_subscription_context_unsubscribes_on_exit(hub: EventHub) -> None:
    with hub.subscription("topic=t", lambda event: 1) as identifier:
        assert hub.publish(Event("t"), synchronous=True) == [1]

    assert hub.get_subscriber_by_identifier(identifier) is None
    assert hub.publish(Event("t"), synchronous=True) == []


def test_connection_errors_when_the_server_cannot_be_reached(hub: EventHub) -> None:
    with pytest.raises(EventHubConnectionError, match="cannot reach"):
        hub.connect()
    with pytest.raises(EventHubConnectionError, match="Not currently connected"):
        hub.disconnect()
    assert not hub.connected
    assert "disconnected" in repr(hub)


def test_wait_returns_after_its_duration(hub: EventHub) -> None:
    received: list[Any] = []
    hub.subscribe("topic=t", received.append)

    hub.wait(0.01)

    assert received == []
