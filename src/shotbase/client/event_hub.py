"""The client's event hub: subscribe to, publish and reply to events through the server.

Compatible in surface with the official client's ``session.event_hub``: the socket runs in a
background thread, received events wait in a queue and handlers run in :meth:`EventHub.wait`
(or at once for synchronous publishes and local topics), in priority order (lower first),
until a handler calls ``event.stop()``. A handler's non-None return value is published back
as a reply to the event's publisher.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import platform
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shotbase.client._event_socket import EventSocket, EventSocketError
from shotbase.events.event import Event, new_id
from shotbase.events.expression import Expression, parse_expression

__all__ = ["EventHub", "EventHubConnectionError", "Subscriber"]

logger = logging.getLogger(__name__)

REPLY_TOPIC = "ftrack.meta.reply"
SUBSCRIBE_TOPIC = "ftrack.meta.subscribe"
UNSUBSCRIBE_TOPIC = "ftrack.meta.unsubscribe"
# Topics the session raises for its own plugins: handled in-process, never sent.
LOCAL_TOPIC_MARKER = ".session."
SEND_QUEUE_SIZE = 10_000

Handler = Callable[[Event], Any]


class EventHubConnectionError(ConnectionError):
    """The hub is not connected, or cannot connect, to the event server."""


class _State(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A local subscriber: its metadata, subscription, handler and priority."""

    metadata: dict[str, Any]
    subscription: str
    expression: Expression
    callback: Handler
    priority: int

    @property
    def id(self) -> str:
        """The subscriber's identifier."""
        return str(self.metadata["id"])

    def interested_in(self, event: Event) -> bool:
        """Whether the subscription matches ``event``."""
        return self.expression.match(event.candidate())


def is_local_topic(topic: str) -> bool:
    """Whether a topic is one of the session's own, handled without the server."""
    return LOCAL_TOPIC_MARKER in f".{topic}."


class EventHub:
    """Events between this process and every other client of the server.

    Args:
        server_url: The server's URL, e.g. ``http://127.0.0.1:8470``.
        api_user: The user to authenticate as.
        api_key: That user's API key.
        reconnect_attempts: How often to try to reconnect after the connection is lost.
        reconnect_delay: Seconds between those attempts.
    """

    def __init__(
        self,
        server_url: str,
        api_user: str,
        api_key: str,
        *,
        reconnect_attempts: int = 30,
        reconnect_delay: float = 10.0,
    ) -> None:
        self.id = new_id()
        self.server_url = server_url.rstrip("/")
        self.api_user = api_user
        self._headers = {"ftrack-user": api_user, "ftrack-api-key": api_key}
        self.reconnect_attempts, self.reconnect_delay = reconnect_attempts, reconnect_delay
        self._subscribers: list[Subscriber] = []
        self._ordered: list[Subscriber] | None = None  # by priority; None after a change
        self._replies: dict[str, Handler] = {}
        self._received: queue.Queue[Event] = queue.Queue()
        self._unsent: queue.Queue[dict[str, Any]] = queue.Queue(SEND_QUEUE_SIZE)
        self._socket: EventSocket | None = None
        self._state = _State.DISCONNECTED
        self._lock = threading.RLock()
        self._intentional = False
        self._stop_reconnecting = threading.Event()

    def __repr__(self) -> str:
        return (
            f"EventHub(url={self.server_url!r}, state={self._state.value!r}, "
            f"subscribers={len(self._subscribers)})"
        )

    # Connection ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the hub is connected to the server."""
        return self._state is _State.CONNECTED

    def connect(self) -> None:
        """Connect to the server and announce every subscriber.

        Raises:
            EventHubConnectionError: If already connected or the server cannot be reached.
        """
        with self._lock:
            if self._state is _State.CONNECTED:
                raise EventHubConnectionError("Already connected.")
            self._intentional = False
            self._stop_reconnecting.clear()
            self._state = _State.CONNECTING
            try:
                self._open()
            except EventSocketError as exc:
                self._state = _State.DISCONNECTED
                raise EventHubConnectionError(str(exc)) from exc

    def disconnect(self, unsubscribe: bool = True) -> None:
        """Disconnect; with ``unsubscribe``, forget every subscriber first.

        Raises:
            EventHubConnectionError: If not connected.
        """
        with self._lock:
            if self._state is _State.DISCONNECTED:
                raise EventHubConnectionError("Not currently connected.")
            self._intentional = True
            self._stop_reconnecting.set()
            if unsubscribe:
                for subscriber in list(self._subscribers):
                    if subscriber.id != self.id:
                        with contextlib.suppress(EventHubConnectionError):
                            self.unsubscribe(subscriber.id)
            self._close_socket()

    def reconnect(self, attempts: int = 10, delay: float = 5.0) -> None:
        """Disconnect if connected and connect again, trying ``attempts`` times.

        Raises:
            EventHubConnectionError: If every attempt fails.
        """
        with self._lock:
            self._intentional = True
            self._close_socket()
            self._intentional = False
            self._stop_reconnecting.clear()
        self._retry(attempts, delay)

    # Subscribers ---------------------------------------------------------------------------

    def subscribe(
        self,
        subscription: str,
        callback: Handler,
        subscriber: Mapping[str, Any] | None = None,
        priority: int = 100,
    ) -> str:
        """Call ``callback`` with each event matching ``subscription``; return the subscriber id.

        Raises:
            ValueError: If the subscription does not parse, or the id is taken.
        """
        added = self._add_subscriber(subscription, callback, subscriber, priority)
        self._announce(added)
        return added.id

    def unsubscribe(self, subscriber_identifier: str) -> None:
        """Remove a subscriber, here and on the server.

        Raises:
            ValueError: If there is no subscriber with that identifier.
        """
        with self._lock:
            found = self.get_subscriber_by_identifier(subscriber_identifier)
            if found is None:
                raise ValueError(f"No subscriber with identifier {subscriber_identifier!r}.")
            self._subscribers.remove(found)
            self._ordered = None
        if self.connected:
            event = Event(UNSUBSCRIBE_TOPIC, data={"subscriber": {"id": subscriber_identifier}})
            self._send(self._prepared(event), _warn_on_failure)

    def get_subscriber_by_identifier(self, identifier: str) -> Subscriber | None:
        """The local subscriber with ``identifier``, or None."""
        return next((s for s in self._subscribers if s.id == identifier), None)

    @contextlib.contextmanager
    def subscription(
        self,
        subscription: str,
        callback: Handler,
        subscriber: Mapping[str, Any] | None = None,
        priority: int = 100,
    ) -> Iterator[str]:
        """Subscribe for the duration of a ``with`` block."""
        identifier = self.subscribe(subscription, callback, subscriber, priority)
        try:
            yield identifier
        finally:
            with contextlib.suppress(ValueError):
                self.unsubscribe(identifier)

    # Publishing ----------------------------------------------------------------------------

    def publish(
        self,
        event: Event,
        synchronous: bool = False,
        on_reply: Handler | None = None,
        on_error: str = "raise",
    ) -> list[Any] | None:
        """Publish an event.

        Synchronous publishes and the session's local topics run the matching local handlers
        at once and return their results; others go through the server (queued while the hub
        is connecting or reconnecting), and ``on_reply`` receives each reply.

        Raises:
            EventHubConnectionError: If not connected (unless ``on_error='ignore'``).
        """
        prepared = self._prepared(event)
        if synchronous or is_local_topic(prepared.topic):
            return self._handle(prepared, synchronous=True)
        try:
            if on_reply is not None:
                self._replies[prepared.id] = on_reply
            self._send(prepared, _warn_on_failure)
        except EventHubConnectionError:
            self._replies.pop(prepared.id, None)
            if on_error != "ignore":
                raise
        return None

    def publish_reply(
        self, source_event: Event, data: Mapping[str, Any], source: Mapping[str, Any] | None = None
    ) -> None:
        """Publish ``data`` as the reply to ``source_event``, to its publisher alone."""
        reply = Event(
            REPLY_TOPIC,
            data=dict(data),
            source=dict(source) if source is not None else {},
            target=f"id={source_event.source.get('id')}",
            in_reply_to_event=source_event.id,
        )
        self.publish(reply)

    def wait(self, duration: float | None = None) -> None:
        """Handle received events for ``duration`` seconds (for ever when None)."""
        deadline = None if duration is None else time.monotonic() + duration
        while True:
            timeout = 0.1 if deadline is None else deadline - time.monotonic()
            if timeout <= 0:
                return
            try:
                event = self._received.get(timeout=min(timeout, 0.1))
            except queue.Empty:
                continue
            self._handle(event, synchronous=False)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the server acknowledged everything sent so far (e.g. subscriptions).

        Raises:
            TimeoutError: If it has not after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            socket = self._socket
            if self.connected and socket is not None and socket.pending_acks == 0:
                if self._unsent.empty():
                    return
            time.sleep(0.005)
        raise TimeoutError(f"the event server did not acknowledge within {timeout} s")

    # Internals -----------------------------------------------------------------------------

    def _add_subscriber(
        self,
        subscription: str,
        callback: Handler,
        metadata: Mapping[str, Any] | None,
        priority: int,
    ) -> Subscriber:
        details = dict(metadata or {})
        details.setdefault("id", new_id())
        expression = parse_expression(subscription)
        with self._lock:
            if self.get_subscriber_by_identifier(str(details["id"])) is not None:
                raise ValueError(f"Subscriber with identifier {details['id']} already exists.")
            added = Subscriber(details, subscription, expression, callback, priority)
            self._subscribers.append(added)
            self._ordered = None
        return added

    def _announce(self, subscriber: Subscriber) -> None:
        event = Event(
            SUBSCRIBE_TOPIC,
            data={"subscriber": subscriber.metadata, "subscription": subscriber.subscription},
        )
        with contextlib.suppress(EventHubConnectionError):
            self._send(self._prepared(event), _warn_on_failure)

    def _prepared(self, event: Event) -> Event:
        source = dict(event.source)
        source.setdefault("id", self.id)
        source.setdefault("user", {"username": self.api_user})
        source.setdefault("host", platform.node())
        return event.with_changes(source=source)

    def _send(self, event: Event, on_ack: Callable[[dict[str, Any]], None]) -> None:
        wire = event.to_wire()
        with self._lock:
            socket = self._socket
            if self._state is _State.CONNECTING or (
                self._state is _State.CONNECTED and socket is None
            ):
                self._queue_unsent(wire)
                return
        if socket is None:
            raise EventHubConnectionError("Cannot publish: not connected to the event server.")
        try:
            socket.send_event(wire, on_ack)
        except EventSocketError:
            self._queue_unsent(wire)  # the reader notices the loss and reconnects

    def _queue_unsent(self, wire: dict[str, Any]) -> None:
        try:
            self._unsent.put_nowait(wire)
        except queue.Full:
            logger.warning("dropped event %s: too many events wait for the connection", wire["id"])

    def _open(self) -> None:
        """Open a socket, announce the subscribers and send what waited (under the lock)."""
        socket = EventSocket(self.server_url, self._headers, self._on_wire_event, self._on_lost)
        socket.open()
        try:
            self._announce_all(socket)
        except EventSocketError:
            socket.close()
            raise
        self._socket = socket
        self._state = _State.CONNECTED
        self._received.put(self._prepared(Event("ftrack.meta.connected")))

    def _announce_all(self, socket: EventSocket) -> None:
        """Send every subscriber, then the events that waited for the connection."""
        if self.get_subscriber_by_identifier(self.id) is None:
            self._add_subscriber(f"topic={REPLY_TOPIC}", self._handle_reply, {"id": self.id}, 100)
        for subscriber in list(self._subscribers):
            event = Event(
                SUBSCRIBE_TOPIC,
                data={"subscriber": subscriber.metadata, "subscription": subscriber.subscription},
            )
            socket.send_event(self._prepared(event).to_wire(), _warn_on_failure)
        while True:
            try:
                socket.send_event(self._unsent.get_nowait(), _warn_on_failure)
            except queue.Empty:
                break

    def _close_socket(self) -> None:
        socket, self._socket = self._socket, None
        self._state = _State.DISCONNECTED
        if socket is not None:
            socket.close()

    def _on_wire_event(self, payload: dict[str, Any]) -> None:
        try:
            self._received.put(Event.from_wire(payload))
        except ValueError as exc:
            logger.debug("ignored an event from the server: %s", exc)

    def _on_lost(self) -> None:
        """Called by the reader thread when the socket closed unasked: reconnect."""
        with self._lock:
            self._socket = None
            if self._intentional:
                self._state = _State.DISCONNECTED
                return
            self._state = _State.CONNECTING
        logger.info("lost the event server; reconnecting")
        thread = threading.Thread(
            target=self._reconnect_in_background, name="shotbase-event-reconnect", daemon=True
        )
        thread.start()

    def _reconnect_in_background(self) -> None:
        try:
            self._retry(self.reconnect_attempts, self.reconnect_delay)
        except EventHubConnectionError:
            logger.warning("could not reconnect to the event server")
            self._received.put(self._prepared(Event("ftrack.meta.disconnected")))

    def _retry(self, attempts: int, delay: float) -> None:
        error: Exception | None = None
        for attempt in range(max(attempts, 1)):
            if attempt and self._stop_reconnecting.wait(delay):
                break
            with self._lock:
                if self._intentional:
                    break
                self._state = _State.CONNECTING
                try:
                    self._open()
                    return
                except EventSocketError as exc:
                    error = exc
        with self._lock:
            self._state = _State.DISCONNECTED
        raise EventHubConnectionError(f"Failed to reconnect to the event server: {error}")

    def _handle(self, event: Event, *, synchronous: bool) -> list[Any]:
        try:
            target = _parse_target(event.target)
        except ValueError:
            logger.warning("ignored an event whose target %r does not parse", event.target)
            return []
        candidate = event.candidate()
        results: list[Any] = []
        for subscriber in self._by_priority():
            if target is not None and not target.match(subscriber.metadata):
                continue
            if not subscriber.expression.match(candidate):
                continue
            try:
                response = subscriber.callback(event)
            except Exception:  # noqa: BLE001 - one handler must not stop the others
                logger.exception("subscriber %s failed on event %s", subscriber.id, event.id)
                response = None
            results.append(response)
            if not synchronous and response is not None:
                self._reply(event, response, subscriber)
            if event.is_stopped():
                break
        return results

    def _by_priority(self) -> list[Subscriber]:
        """The subscribers, lower priority first (stable); sorted again after each change."""
        ordered = self._ordered
        if ordered is None:
            ordered = self._ordered = sorted(self._subscribers, key=lambda s: s.priority)
        return ordered

    def _reply(self, event: Event, response: Any, subscriber: Subscriber) -> None:
        data = response if isinstance(response, Mapping) else {"result": response}
        try:
            self.publish_reply(event, data, source=subscriber.metadata)
        except EventHubConnectionError:
            logger.warning("could not reply to event %s: not connected", event.id)

    def _handle_reply(self, event: Event) -> None:
        callback = self._replies.get(event.in_reply_to_event or "")
        if callback is not None:
            callback(event)


def _parse_target(text: str) -> Expression | None:
    return parse_expression(text) if text else None


def _warn_on_failure(answer: dict[str, Any]) -> None:
    if answer.get("success") is False:
        logger.warning("the event server refused an event: %s", answer.get("message"))
