"""Session members for server actions beyond entities (a clear error where a server lacks one)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shotbase.client.location import SERVER_LOCATION_ID
from shotbase.errors import NotSupportedError, UnknownActionError

__all__ = ["ServerActions"]


class ServerActions:
    """Mixed into ``Session``: each member sends one action, or says it is not supported."""

    def call(self, operations: Sequence[Mapping[str, Any]]) -> list[Any]:  # pragma: no cover
        """Provided by ``Session``."""
        raise NotImplementedError

    def _action(self, operations: Sequence[Mapping[str, Any]]) -> list[Any]:
        try:
            return self.call(operations)
        except UnknownActionError as exc:
            action = operations[0]["action"] if operations else "?"
            raise NotSupportedError(
                f"This server does not support the {action!r} action yet."
            ) from exc

    def reset_remote(self, reset_type: str, entity: Any = None) -> Any:
        """Reset a remote value (``api_key`` of a ``User``) and return the new data.

        Raises:
            NotSupportedError: If the server has no ``reset_remote`` action.
        """
        operation: dict[str, Any] = {"action": "reset_remote", "reset_type": reset_type}
        if entity is not None:
            operation.update(entity_type=entity.entity_type, entity_key=entity["id"])
        return self._action([operation])[0]["data"]

    def delayed_job(self, job_type: str) -> Any:
        """Start a server job (``SYNC_USERS_LDAP``) and return its ``Job``.

        Raises:
            NotSupportedError: If the server has no ``delayed_job`` action.
        """
        return self._action([{"action": "delayed_job", "job_type": job_type}])[0]["data"]

    def get_widget_url(self, name: str, entity: Any = None, theme: str | None = None) -> str:
        """A URL of a web widget (``info``, ``tasks``, ``tasks_browser``).

        Raises:
            NotSupportedError: If the server has no ``get_widget_url`` action.
        """
        operation: dict[str, Any] = {"action": "get_widget_url", "name": name, "theme": theme}
        if entity is not None:
            operation.update(entity_type=entity.entity_type, entity_key=[entity["id"]])
        return str(self._action([operation])[0]["widget_url"])

    def encode_media(
        self, media: Any, version_id: str | None = None, keep_original: Any = "auto"
    ) -> Any:
        """Ask the server to encode a ``FileComponent`` for review; returns the job.

        ``media`` is a ``FileComponent`` or the path of a file, which is first uploaded to the
        ``ftrack.server`` location as a new component.

        Raises:
            NotSupportedError: If the server has no ``encode_media`` action.
        """
        if isinstance(media, str):
            session: Any = self
            server = session.get("Location", SERVER_LOCATION_ID)
            media = session.create_component(media, location=server)
        operation = {
            "action": "encode_media",
            "component_id": media["id"],
            "version_id": version_id,
            "keep_original": keep_original is True,
        }
        return self._action([operation])[0]

    def get_upload_metadata(
        self, component_id: str, file_name: str, file_size: int, checksum: str | None = None
    ) -> Any:
        """Where and how to upload a component's file.

        Raises:
            NotSupportedError: If the server has no ``get_upload_metadata`` action.
        """
        operation = {
            "action": "get_upload_metadata",
            "component_id": component_id,
            "file_name": file_name,
            "file_size": file_size,
            "checksum": checksum,
        }
        return self._action([operation])[0]

    def send_user_invite(self, user: Any) -> None:
        """E-mail an invite to ``user``."""
        self.send_user_invites([user])

    def send_user_invites(self, users: Iterable[Any]) -> None:
        """E-mail an invite to each of ``users`` (one request).

        Raises:
            NotSupportedError: If the server has no ``send_user_invite`` action.
        """
        self._action([{"action": "send_user_invite", "user_id": user["id"]} for user in users])

    def send_review_session_invite(self, invitee: Any) -> None:
        """E-mail a review session invite to ``invitee``."""
        self.send_review_session_invites([invitee])

    def send_review_session_invites(self, invitees: Iterable[Any]) -> None:
        """E-mail review session invites (one request).

        Raises:
            NotSupportedError: If the server has no ``send_review_session_invite`` action.
        """
        self._action(
            [
                {"action": "send_review_session_invite", "review_session_invitee_id": each["id"]}
                for each in invitees
            ]
        )
