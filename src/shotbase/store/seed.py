"""Starting data for a new database: the workflow a studio expects from a fresh install.

Ids that the official clients or common scripts hard-code (object types, the default
priority, the NOT_STARTED state, the user type, the built-in locations) are the real ones.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from shotbase.store.tables import Tables
from shotbase.store.writer import Writer

__all__ = ["OBJECT_TYPES", "seed"]

logger = logging.getLogger(__name__)

OBJECT_TYPES = {
    "Task": "11c137c0-ee7e-4f9c-91c5-8c77cec22b2c",
    "Shot": "bad911de-3bd6-47b9-8b46-3476e237cb36",
    "Sequence": "e5139355-61da-4c8f-9db4-3abc870166bc",
    "Episode": "22139355-61da-4c8f-9db4-3abc870166bc",
    "Folder": "3c133785-51cb-11e3-980a-20c9d0831e59",
    "Asset Build": "4be63b64-5010-42fb-bf1f-428af9d638f0",
    "Milestone": "01decdd1-51cb-11e3-9d5b-20c9d0831e59",
}
OBJECT_TYPE_FLAGS = {
    "Task": dict(is_leaf=True, is_taskable=False, is_time_reportable=True, is_schedulable=True),
    "Milestone": dict(is_leaf=True, is_taskable=False, is_schedulable=True),
}
DEFAULT_PRIORITY = "9661b320-3a0c-11e2-81c1-0800200c9a66"
NOT_STARTED_STATE = "6c59abf8-4dbf-11e1-9902-f23c91df25eb"
USER_TYPE = "ac9fa5aa-4361-11e0-b7cc-0019bb4983d8"
LOCATIONS = {
    "ftrack.origin": "ce9b348f-8809-11e3-821c-20c9d081909b",
    "ftrack.unmanaged": "cb268ecc-8809-11e3-a7e2-20c9d081909b",
    "ftrack.review": "cd41be70-8809-11e3-b98a-20c9d081909b",
    "ftrack.server": "3a372bde-05bc-11e4-8908-20c9d081909b",
    "ftrack.connect": "07b82a97-8cf9-11e3-9383-20c9d081909b",
}
STATES = [
    ("Not started", "NOT_STARTED", NOT_STARTED_STATE),
    ("In progress", "IN_PROGRESS", "44dded64-4bb2-11e1-9902-f23c91df25eb"),
    ("Done", "DONE", "44de097a-4bb2-11e1-9902-f23c91df25eb"),
    ("Blocked", "BLOCKED", "44de0ee8-4bb2-11e1-9902-f23c91df25eb"),
]
# Every status once, (name, state short, color); workflows pick from them in their own order.
STATUSES = [
    ("Not started", "NOT_STARTED", "#CCCCCC"),
    ("Ready to start", "NOT_STARTED", "#7EE0E0"),
    ("In progress", "IN_PROGRESS", "#FFCC00"),
    ("Pending review", "IN_PROGRESS", "#6699FF"),
    ("Requires changes", "IN_PROGRESS", "#FF6666"),
    ("Approved", "DONE", "#33CC66"),
    ("Client approved", "DONE", "#00AA44"),
    ("On hold", "BLOCKED", "#FF9900"),
    ("Omitted", "BLOCKED", "#999999"),
]
TASK_STATUSES = [
    "Not started",
    "Ready to start",
    "In progress",
    "Pending review",
    "Approved",
    "On hold",
    "Omitted",
]
VERSION_STATUSES = ["Pending review", "Requires changes", "Approved", "Client approved"]
CONTAINER_STATUSES = ["Not started", "In progress", "Approved", "On hold", "Omitted"]
TASK_TYPES = [
    ("Generic", "#BBBBBB"),
    ("Layout", "#8F6DD9"),
    ("Modeling", "#4FB3BF"),
    ("Texture", "#E0A85C"),
    ("Rigging", "#AD6DD9"),
    ("Animation", "#6DD98F"),
    ("FX", "#D96D6D"),
    ("Lighting", "#D9C36D"),
    ("Compositing", "#6D8FD9"),
    ("Tracking", "#6DD9D0"),
    ("Rotoscoping", "#D96DB5"),
]
PRIORITIES = [
    ("None", 0, DEFAULT_PRIORITY),
    ("Low", 1, None),
    ("Medium", 2, None),
    ("High", 3, None),
    ("Urgent", 4, None),
]
ASSET_TYPES = [
    ("Geometry", "geo"),
    ("Image Sequence", "img"),
    ("Animation", "anim"),
    ("Rig", "rig"),
    ("Camera", "cam"),
    ("Texture", "txt"),
    ("Scene", "scene"),
    ("Render", "render"),
    ("Comp", "comp"),
    ("Audio", "audio"),
    ("Look development", "look"),
    ("Upload", "upload"),
]
NOTE_CATEGORIES = [("Default", "#CCCCCC"), ("Internal", "#6699FF"), ("Client feedback", "#FF9900")]
CUSTOM_ATTRIBUTE_TYPES = [
    "text",
    "number",
    "boolean",
    "date",
    "enumerator",
    "dynamic enumerator",
    "expression",
    "url",
]
SECURITY_ROLES = [
    ("Administrator", "ADMIN"),
    ("Project Manager", "PROJECT"),
    ("User", "USER"),
    ("API", "API"),
]


def seed(tables: Tables, connection: sa.Connection) -> bool:
    """Create the starting data unless the database has it already; True when it was created."""
    object_type = tables.families["ObjectType"]
    if connection.execute(sa.select(object_type.c.id).limit(1)).first() is not None:
        return False
    writer = Writer(tables, connection, user_id=None)
    _Seeder(writer).run()
    writer.finish()
    logger.info("created the starting data of a new database")
    return True


class _Seeder:
    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def create(self, type_name: str, **data: Any) -> str:
        return str(self.writer.create(type_name, data).row.get("id"))

    def run(self) -> None:
        states = {short: self.create("State", id=i, name=n, short=short) for n, short, i in STATES}
        statuses = self._statuses(states)
        types = {
            name: self.create("Type", name=name, color=color, sort=i, is_billable=True)
            for i, (name, color) in enumerate(TASK_TYPES)
        }
        for name, value, identifier in PRIORITIES:
            extra = {"id": identifier} if identifier else {}
            self.create("Priority", name=name, value=value, sort=value, color="#CCCCCC", **extra)
        for i, (name, object_type_id) in enumerate(OBJECT_TYPES.items()):
            flags = OBJECT_TYPE_FLAGS.get(name, {})
            self.create("ObjectType", id=object_type_id, name=name, sort=i, **flags)
        for name, short in ASSET_TYPES:
            self.create("AssetType", name=name, short=short)
        for i, (name, color) in enumerate(NOTE_CATEGORIES):
            self.create("NoteCategory", name=name, color=color, sort=i)
        for name in CUSTOM_ATTRIBUTE_TYPES:
            self.create("CustomAttributeType", name=name, core=True)
        for name, kind in SECURITY_ROLES:
            self.create("SecurityRole", name=name, type=kind)
        self.create("UserType", id=USER_TYPE, name="user")
        for name, identifier in LOCATIONS.items():
            self.create("Location", id=identifier, name=name, label=name, description="Built-in")
        self._project_schema(statuses, types)

    def _statuses(self, states: dict[str, str]) -> dict[str, str]:
        return {
            name: self.create(
                "Status",
                name=name,
                color=color,
                sort=i,
                is_active=True,
                state={"__entity_type__": "State", "id": states[short]},
            )
            for i, (name, short, color) in enumerate(STATUSES)
        }

    def _workflow(self, name: str, status_ids: list[str]) -> str:
        workflow = self.create("WorkflowSchema", name=name)
        for status_id in status_ids:
            self.create("WorkflowSchemaStatus", workflow_schema_id=workflow, status_id=status_id)
        return workflow

    def _project_schema(self, statuses: dict[str, str], types: dict[str, str]) -> None:
        task_workflow = self._workflow("Task workflow", [statuses[n] for n in TASK_STATUSES])
        version_workflow = self._workflow(
            "Version workflow", [statuses[n] for n in VERSION_STATUSES]
        )
        task_types = self.create("TaskTypeSchema", name="Task types")
        for type_id in types.values():
            self.create("TaskTypeSchemaType", task_type_schema_id=task_types, type_id=type_id)
        schema = self.create(
            "ProjectSchema",
            name="VFX",
            task_workflow_schema_id=task_workflow,
            task_type_schema_id=task_types,
            asset_version_workflow_schema_id=version_workflow,
        )
        for name, object_type_id in OBJECT_TYPES.items():
            self.create(
                "ProjectSchemaObjectType", project_schema_id=schema, object_type_id=object_type_id
            )
            if name == "Task":
                continue
            # Schema.type_id and .object_type_id name one backend column (typeid).
            container = self.create(
                "Schema",
                project_schema_id=schema,
                object_type_id=object_type_id,
                type_id=object_type_id,
            )
            for sort, status in enumerate(CONTAINER_STATUSES):
                self.create(
                    "SchemaStatus", schema_id=container, status_id=statuses[status], sort=sort
                )
            self.create("SchemaType", schema_id=container, type_id=types["Generic"], sort=0)
