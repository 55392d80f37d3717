"""Values the server fills in when a create leaves them out, as a studio's server does."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from shotbase.schema.model import EntityType
from shotbase.store.tables import Tables
from shotbase.store.types import Row

__all__ = ["WorkflowDefaults", "schema_defaults", "type_defaults"]

COMPONENT_SYSTEM_TYPES = {
    "FileComponent": "file",
    "SequenceComponent": "sequence",
    "ContainerComponent": "container",
}


STANDARD_USER_TYPE = "ac9fa5aa-4361-11e0-b7cc-0019bb4983d8"
# Types whose user_id names who made the entity, so it defaults to the caller.
AUTHORED_BY_CALLER = {"Note", "AssetVersion", "Timer", "Timelog", "List", "StatusChange", "Event"}


def schema_defaults(entity_type: EntityType) -> dict[str, Any]:
    """Defaults the schema declares for stored attributes, ``{uid}`` made into a new id."""
    constants, new_ids = _declared_defaults(entity_type)
    values = dict(constants)
    for name in new_ids:
        values[name] = str(uuid.uuid4())
    return values


@functools.cache
def _declared_defaults(entity_type: EntityType) -> tuple[dict[str, Any], tuple[str, ...]]:
    constants = {
        a.name: a.default
        for a in entity_type.stored_attributes
        if a.has_default and a.default != "{uid}"
    }
    new_ids = tuple(
        a.name for a in entity_type.stored_attributes if a.has_default and a.default == "{uid}"
    )
    return constants, new_ids


def type_defaults(entity_type: EntityType, user_id: str | None, now: dt.datetime) -> dict[str, Any]:
    """Server-set values that follow from the type and the request, not from other rows."""
    attributes = entity_type.attributes
    values: dict[str, Any] = {}
    if entity_type.root.id == "Context":
        values["context_type"] = "show" if entity_type.id == "Project" else "task"
    if entity_type.id == "Project":
        values.update(status="active", is_global=False, is_private=False)
    if entity_type.id in COMPONENT_SYSTEM_TYPES:
        values["system_type"] = COMPONENT_SYSTEM_TYPES[entity_type.id]
    for name in ("bid", "sort"):
        if name in attributes and attributes[name].is_required:
            values[name] = 0
    for name in ("is_active", "local"):
        if name in attributes and attributes[name].is_required:
            values[name] = name == "is_active"
    for name in ("created_at", "date"):
        if name in attributes and attributes[name].is_stored:
            values[name] = now
    if entity_type.id == "User":
        values.update(
            is_otp_enabled=False,
            is_totp_enabled=False,
            require_details_update=False,
            user_type_id=STANDARD_USER_TYPE,
        )
    if entity_type.id == "Timer":
        values["start"] = now
    if user_id is not None:
        if "created_by_id" in attributes:
            values["created_by_id"] = user_id
        if entity_type.root.id in AUTHORED_BY_CALLER:
            values["user_id"] = user_id
    return values


class WorkflowDefaults:
    """Default status and type of new contexts and versions, from the project's schema.

    Answers are cached for the life of one batch, so a batch creating thousands of tasks
    asks the database once per project and object type.
    """

    def __init__(self, tables: Tables, connection: sa.Connection) -> None:
        self.tables = tables
        self.connection = connection
        self._cache: dict[tuple[str, ...], str | None] = {}
        # Projects created in this batch and not stored yet: id -> project schema id.
        self.new_projects: dict[str, str | None] = {}

    def __repr__(self) -> str:
        return f"WorkflowDefaults(cached={len(self._cache)})"

    def status(self, project_id: str | None, object_type_id: str | None) -> str | None:
        """First status of the workflow for ``object_type_id`` (None: asset versions)."""
        return self._cached(
            ("status", str(project_id), str(object_type_id)),
            lambda schema: self._first_status(schema, object_type_id),
            project_id,
        )

    def type(self, project_id: str | None, object_type_id: str | None) -> str | None:
        """First type the project's schema offers for ``object_type_id``."""
        return self._cached(
            ("type", str(project_id), str(object_type_id)),
            lambda schema: self._first_type(schema, object_type_id),
            project_id,
        )

    def _cached(
        self,
        key: tuple[str, ...],
        compute: Callable[[Row], str | None],
        project_id: str | None,
    ) -> str | None:
        if key not in self._cache:
            schema = self._project_schema(project_id)
            self._cache[key] = compute(schema) if schema is not None else None
        return self._cache[key]

    def _project_schema(self, project_id: str | None) -> Row | None:
        if project_id is None:
            return None
        context = self.tables.families["Context"]
        schema = self.tables.families["ProjectSchema"]
        if project_id in self.new_projects:
            statement = sa.select(*schema.c).where(schema.c.id == self.new_projects[project_id])
            return self.connection.execute(statement).mappings().first()
        statement = (
            sa.select(*schema.c)
            .select_from(schema.join(context, context.c.project_schema_id == schema.c.id))
            .where(context.c.id == project_id)
        )
        return self.connection.execute(statement).mappings().first()

    def _first_status(self, schema: Row, object_type_id: str | None) -> str | None:
        if object_type_id is None:
            return self._workflow_first(schema["asset_version_workflow_schema_id"])
        found = self._schema_first(schema["id"], object_type_id, "SchemaStatus", "status_id")
        return found or self._workflow_first(schema["task_workflow_schema_id"])

    def _first_type(self, schema: Row, object_type_id: str | None) -> str | None:
        found = self._schema_first(schema["id"], object_type_id, "SchemaType", "type_id")
        if found:
            return found
        link = self.tables.families["TaskTypeSchemaType"]
        kind = self.tables.families["Type"]
        statement = (
            sa.select(kind.c.id)
            .select_from(link.join(kind, link.c.type_id == kind.c.id))
            .where(link.c.task_type_schema_id == schema["task_type_schema_id"])
            .order_by(kind.c.sort, kind.c.name)
            .limit(1)
        )
        first: str | None = self.connection.execute(statement).scalar()
        return first

    def _schema_first(
        self, project_schema_id: str, object_type_id: str | None, family: str, column: str
    ) -> str | None:
        schema = self.tables.families["Schema"]
        items = self.tables.families[family]
        statement = (
            sa.select(items.c[column])
            .select_from(items.join(schema, items.c.schema_id == schema.c.id))
            .where(
                schema.c.project_schema_id == project_schema_id,
                schema.c.object_type_id == object_type_id,
            )
            .order_by(items.c.sort)
            .limit(1)
        )
        found: str | None = self.connection.execute(statement).scalar()
        return found

    def _workflow_first(self, workflow_id: str | None) -> str | None:
        if workflow_id is None:
            return None
        link = self.tables.families["WorkflowSchemaStatus"]
        status = self.tables.families["Status"]
        statement = (
            sa.select(status.c.id)
            .select_from(link.join(status, link.c.status_id == status.c.id))
            .where(link.c.workflow_schema_id == workflow_id)
            .order_by(status.c.sort, status.c.name)
            .limit(1)
        )
        found: str | None = self.connection.execute(statement).scalar()
        return found
