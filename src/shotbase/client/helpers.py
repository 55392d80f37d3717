"""Entity helper methods the ftrack-style surface offers, mixed in by entity type."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from shotbase.client.component import ComponentMixin, ThumbnailMixin
from shotbase.client.entity import Entity
from shotbase.client.location import LocationMixin
from shotbase.errors import DuplicateEntityError, NoResultFoundError

__all__ = ["check_create", "mixins_for"]

logger = logging.getLogger(__name__)


class ProjectSchemaMixin(Entity):
    """Status and type lookups of a project schema."""

    __slots__ = ()

    def get_statuses(self, schema: str, type_id: str | None = None) -> list[Any]:
        """The statuses allowed for ``schema`` (``Task``, ``AssetVersion`` or a context type).

        Args:
            schema: Entity type name.
            type_id: A task type id whose workflow override should be used, if any.
        Raises:
            ValueError: If ``schema`` has no statuses in this project schema.
        """
        if schema == "Task":
            if type_id is not None:
                for override in self["_overrides"]:
                    if override["type_id"] == type_id:
                        return list(override["workflow_schema"]["statuses"])
            return list(self["_task_workflow"]["statuses"])
        if schema == "AssetVersion":
            return list(self["_version_workflow"]["statuses"])
        return self._lookup(schema, "task_status", "SchemaStatus", "statuses")

    def get_types(self, schema: str) -> list[Any]:
        """The types allowed for ``schema`` (``Task`` or a context type).

        Raises:
            ValueError: If ``schema`` has no types in this project schema.
        """
        if schema == "Task":
            return list(self["_task_type_schema"]["types"])
        return self._lookup(schema, "task_type", "SchemaType", "types")

    def _lookup(self, schema: str, attribute: str, link_type: str, what: str) -> list[Any]:
        if schema not in self.session.types:
            raise ValueError(f"Schema {schema!r} does not exist.")
        object_type = self.session.types[schema].attributes.get("object_type_id")
        if object_type is None:
            raise ValueError(f"Schema {schema!r} does not have {what}.")
        for schema_entry in self["_schemas"]:
            if schema_entry["type_id"] == object_type.default_value:
                found = self.session.query(
                    f"select {attribute} from {link_type} where schema_id is {schema_entry['id']}"
                )
                return [row[attribute] for row in found]
        raise ValueError(f"No valid {what} were found for schema {schema!r}.")


class NoteCreatorMixin(Entity):
    """``create_note`` for every type with a ``notes`` collection."""

    __slots__ = ()

    def create_note(
        self,
        content: str,
        author: Entity,
        recipients: Sequence[Entity] | None = None,
        category: Entity | None = None,
        labels: Sequence[Entity] | None = None,
    ) -> Entity:
        """Create a note on this entity (committed with the next ``commit``).

        Raises:
            ValueError: If both ``category`` and ``labels`` are given.
        """
        if category is not None and labels:
            raise ValueError("Both category and labels cannot be set at the same time.")
        labels = [category] if category is not None else list(labels or ())
        note = self.session.create("Note", {"content": content, "author": author})
        self["notes"].append(note)
        for resource in recipients or ():
            recipient = self.session.create(
                "Recipient", {"note_id": note["id"], "resource_id": resource["id"]}
            )
            note["recipients"].append(recipient)
        for label in labels:
            self.session.create("NoteLabelLink", {"label_id": label["id"], "note_id": note["id"]})
        return note


class NoteMixin(Entity):
    """Replies to a note."""

    __slots__ = ()

    def create_reply(self, content: str, author: Entity) -> Entity:
        """Create a reply to this note (committed with the next ``commit``)."""
        reply = self.session.create("Note", {"author": author, "content": content})
        self["replies"].append(reply)
        return reply


class UserMixin(Entity):
    """Timers, invites and API keys of a user."""

    __slots__ = ()

    def start_timer(
        self,
        context: Entity | None = None,
        comment: str = "",
        name: str | None = None,
        force: bool = False,
    ) -> Entity:
        """Start a timer for this user and commit.

        Raises:
            DuplicateEntityError: If a timer is already running and ``force`` is False.
        """
        if force:
            try:
                self.stop_timer()
            except NoResultFoundError:
                logger.debug("no running timer to stop")
        timer = self.session.create(
            "Timer", {"user": self, "context": context, "name": name, "comment": comment}
        )
        try:
            self.session.commit()
        except DuplicateEntityError:
            self.session.rollback()
            raise
        return timer

    def stop_timer(self) -> Entity:
        """Stop the running timer, log the time as a ``Timelog`` and commit.

        Raises:
            NoResultFoundError: If no timer is running.
        """
        timer = self.session.query(f'Timer where user_id is "{self["id"]}"').one()
        start = timer["start"]
        now = dt.datetime.now(dt.timezone.utc)
        duration = int((now - start).total_seconds()) if start is not None else 0
        timelog = self.session.create(
            "Timelog",
            {
                "user_id": timer["user_id"],
                "context_id": timer["context_id"],
                "comment": timer["comment"],
                "start": start,
                "duration": duration,
                "name": timer["name"],
            },
        )
        self.session.delete(timer)
        self.session.commit()
        return timelog

    def send_invite(self) -> None:
        """Send this user an invite e-mail."""
        self.session.send_user_invite(self)

    def reset_api_key(self) -> str:
        """Issue a new API key for this user and return it."""
        return str(self.session.reset_remote("api_key", entity=self)["api_key"])


class AssetVersionMixin(Entity):
    """Media helpers of an asset version."""

    __slots__ = ()

    def create_component(self, path: str, data: Any = None, location: Any = None) -> Entity:
        """Create a component of this version from ``path`` (see ``Session.create_component``).

        Raises:
            LocationError: If the data cannot be added to ``location``.
        """
        values = dict(data or {})
        values.pop("version_id", None)
        values["version"] = self
        component: Entity = self.session.create_component(path, data=values, location=location)
        return component

    def encode_media(self, media: Any, keep_original: Any = "auto") -> Any:
        """Ask the server to encode ``media`` (a FileComponent) for review.

        Raises:
            NotSupportedError: If the server has no ``encode_media`` action.
        """
        return self.session.encode_media(media, version_id=self["id"], keep_original=keep_original)


def mixins_for(type_name: str, attributes: Sequence[str]) -> tuple[type[Entity], ...]:
    """The helper classes an entity class of ``type_name`` gets."""
    found: list[type[Entity]] = []
    named = {
        "ProjectSchema": ProjectSchemaMixin,
        "Note": NoteMixin,
        "User": UserMixin,
        "AssetVersion": AssetVersionMixin,
        "Location": LocationMixin,
    }
    if type_name in named:
        found.append(named[type_name])
    if type_name.endswith("Component"):
        found.append(ComponentMixin)
    if "notes" in attributes:
        found.append(NoteCreatorMixin)
    if "thumbnail_id" in attributes:
        found.append(ThumbnailMixin)
    return tuple(found)


def check_create(type_name: str, data: Any) -> None:
    """Reject creation data the ftrack-style surface refuses client-side.

    Raises:
        ValueError: For a ``Job`` whose ``type`` is not ``api_job``.
    """
    if type_name == "Job" and data.get("type") not in ("api_job", None):
        raise ValueError(f'Invalid job type "{data.get("type")}". Must be "api_job"')
