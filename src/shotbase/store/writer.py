"""Apply create, update and delete operations inside one transaction.

Creates are buffered and inserted in bulk, one statement per table, when something needs to
read the database (a query, an update or delete of a stored row) or when the batch ends;
updates of entities created in the same batch change the buffered row. Server-side values that
depend on other rows (a context's project, default statuses and types, version numbers) are
derived at that point, and required attributes are checked then, so a batch may create an
entity and attach it to its parent in a later operation as the official client does.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shotbase.errors import (
    DuplicateEntityError,
    EntityNotFoundError,
    ImmutableAttributeError,
    MissingAttributeError,
    ReferenceNotFoundError,
    ValidationError,
)
from shotbase.schema.model import Attribute, AttributeKind, EntityType
from shotbase.schema.relations import Relation
from shotbase.schema.values import coerce_value
from shotbase.store.custom_attributes import (
    Configuration,
    check_value,
    index_columns,
    load_configurations,
    typed_value_type,
)
from shotbase.store.defaults import WorkflowDefaults, schema_defaults, type_defaults
from shotbase.store.engine import bulk_insert
from shotbase.store.tables import TYPE_COLUMN, Tables
from shotbase.store.tree import ContextTree
from shotbase.store.types import Key, Row

__all__ = ["Change", "Writer", "WrittenEntity"]

CHUNK = 500


@dataclass(frozen=True, slots=True)
class WrittenEntity:
    """An entity as it stands after an operation: its type and its row."""

    entity_type: EntityType
    row: Row


@dataclass(frozen=True, slots=True)
class Change:
    """One entity the batch added, updated or removed, for ``ftrack.update`` events.

    ``old`` and ``new`` hold the changed columns: for ``add`` the new row (filled in as the
    batch derives values), for ``remove`` the deleted row.
    """

    action: str  # "add", "update" or "remove"
    entity_type: EntityType
    key: Key
    old: Mapping[str, Any]
    new: Mapping[str, Any]


class Writer:
    """Writes entities for one batch; call :meth:`finish` before committing."""

    def __init__(
        self,
        tables: Tables,
        connection: sa.Connection,
        *,
        user_id: str | None,
        now: dt.datetime | None = None,
    ) -> None:
        self.tables = tables
        self.schema = tables.schema
        self.connection = connection
        self.user_id = user_id
        self.now = (now or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None, microsecond=0)
        self.workflow = WorkflowDefaults(tables, connection)
        self._configurations: dict[str, Configuration] | None = None
        self.pending: dict[str, dict[Key, dict[str, Any]]] = defaultdict(dict)
        self.referenced: dict[str, dict[Key, tuple[str, str]]] = defaultdict(dict)
        # The change log: what this batch did, in order, for events published after commit.
        self.changes: list[Change] = []

    def __repr__(self) -> str:
        return f"Writer(pending={sum(len(rows) for rows in self.pending.values())})"

    # Operations ----------------------------------------------------------------------------

    def create(self, type_name: str, data: Mapping[str, Any]) -> WrittenEntity:
        """Buffer a new entity; see the module docstring for when it reaches the database.

        Raises:
            UnknownEntityTypeError, UnknownAttributeError, ValidationError, DuplicateEntityError.
        """
        entity_type = self.schema.get(type_name)
        if entity_type.is_abstract:
            concrete = ", ".join(entity_type.concrete_ids())
            raise ValidationError(f"{entity_type.id} cannot be created; create one of: {concrete}.")
        row: dict[str, Any] = {name: None for name in self.tables.of(entity_type).c.keys()}
        row.update(schema_defaults(entity_type))
        row.update(type_defaults(entity_type, self.user_id, self.now))
        row[TYPE_COLUMN] = entity_type.id
        collections = self._assign(entity_type, row, data, current=None)
        key = self._key_of(entity_type, row)
        root = entity_type.root.id
        if key in self.pending[root]:
            raise DuplicateEntityError(entity_type.id, key)
        self.pending[root][key] = row
        self.changes.append(Change("add", entity_type, key, {}, row))
        for name, items in collections.items():
            self._set_collection(entity_type, row, name, items)
        return WrittenEntity(entity_type, row)

    def update(
        self, type_name: str, entity_key: Sequence[Any] | str, data: Mapping[str, Any]
    ) -> WrittenEntity:
        """Change attributes of an entity (insert a custom attribute value that has none).

        Raises:
            EntityNotFoundError, UnknownAttributeError, ImmutableAttributeError, ValidationError.
        """
        entity_type = self.schema.get(type_name)
        key = self.normalize_key(entity_type, entity_key)
        pending = self.pending[entity_type.root.id].get(key)
        if pending is not None:
            collections = self._assign(entity_type, pending, data, current=dict(pending))
            for name, items in collections.items():
                self._set_collection(entity_type, pending, name, items)
            return WrittenEntity(self.schema.get(pending[TYPE_COLUMN]), pending)
        current = self.fetch(entity_type, key)
        if current is None:
            if entity_type.root.id == "CustomAttributeValue":
                seed = dict(zip(entity_type.primary_key, key, strict=True))
                return self.create(type_name, {**seed, **data})
            raise EntityNotFoundError(entity_type.id, key)
        concrete = self.schema.get(current[TYPE_COLUMN])
        row = dict(current)
        collections = self._assign(concrete, row, data, current=dict(current))
        if concrete.root.id == "CustomAttributeValue":
            self._name_custom_attribute_values([row])
        changes = {name: value for name, value in row.items() if value != current[name]}
        if changes:
            table = self.tables.of(entity_type)
            statement = table.update().where(*self._key_filter(table, entity_type, key))
            self.connection.execute(statement.values(**changes))
            old = {name: current[name] for name in changes}
            self.changes.append(Change("update", concrete, key, old, changes))
            if "parent_id" in changes and concrete.root.id == "Context":
                self._move_context(row)
        for name, items in collections.items():
            self._set_collection(concrete, row, name, items)
        return WrittenEntity(concrete, row)

    def delete(self, type_name: str, entity_key: Sequence[Any] | str) -> None:
        """Delete an entity and everything that cannot exist without it.

        Raises:
            EntityNotFoundError: If there is no such entity.
        """
        entity_type = self.schema.get(type_name)
        key = self.normalize_key(entity_type, entity_key)
        pending = self.pending[entity_type.root.id]
        if key in pending and self.schema.get(pending[key][TYPE_COLUMN]).is_a(entity_type):
            row = pending.pop(key)
            self.changes = [change for change in self.changes if change.new is not row]
            return
        self.flush()
        current = self.fetch(entity_type, key)
        if current is None:
            raise EntityNotFoundError(entity_type.id, key)
        concrete = self.schema.get(current[TYPE_COLUMN])
        self.changes.append(Change("remove", concrete, key, dict(current), {}))
        doomed = self._cascade(entity_type.root, [key])
        for root_id, keys in doomed.items():
            self._delete_rows(self.schema.get(root_id), keys)
        if doomed.get("Context"):
            ContextTree(self.tables, self.connection).remove(key[0] for key in doomed["Context"])

    def finish(self) -> None:
        """Check that every reference points at an entity and insert what is buffered."""
        self.flush()

    # Reading -------------------------------------------------------------------------------

    def fetch(self, entity_type: EntityType, key: Key) -> Row | None:
        """The stored row of one entity of ``entity_type`` (or a subtype), or None."""
        table = self.tables.of(entity_type)
        statement = sa.select(*table.c).where(*self._key_filter(table, entity_type, key))
        members = [member.id for member in entity_type.descendants()]
        statement = statement.where(table.c[TYPE_COLUMN].in_(members))
        return self.connection.execute(statement).mappings().first()

    def normalize_key(self, entity_type: EntityType, entity_key: Sequence[Any] | str) -> Key:
        """The key as a tuple of strings, checked against the type's primary key.

        Raises:
            ValidationError: If the key has the wrong number of parts.
        """
        parts = [entity_key] if isinstance(entity_key, str | int) else list(entity_key)
        if len(parts) != len(entity_type.primary_key):
            names = ", ".join(entity_type.primary_key)
            raise ValidationError(
                f"{entity_type.id} is identified by ({names}); got {len(parts)} key values."
            )
        return tuple(
            self._key_part(entity_type, name, part)
            for name, part in zip(entity_type.primary_key, parts, strict=True)
        )

    # Assigning values ----------------------------------------------------------------------

    def _assign(
        self,
        entity_type: EntityType,
        row: dict[str, Any],
        data: Mapping[str, Any],
        current: Row | None,
    ) -> dict[str, Any]:
        """Write scalar and reference values into ``row``; return collection values."""
        if not isinstance(data, dict):
            raise ValidationError(f"{entity_type.id} data must be an object.")
        collections: dict[str, Any] = {}
        attributes = entity_type.attributes
        holders = self.tables.holders(entity_type)
        for name, value in data.items():
            if name == "__entity_type__":
                continue
            attribute = attributes.get(name) or entity_type.attribute(name)
            if attribute.is_computed or attribute.is_restricted:
                raise ValidationError(
                    f"{entity_type.id}.{name} is computed by the server and cannot be set."
                )
            if attribute.kind is AttributeKind.SCALAR:
                new = coerce_value(entity_type.id, attribute, value)
                if current is not None:
                    self._check_mutable(entity_type, attribute, current, name, new)
                row[name] = new
                target = holders.get(name)
                if target is not None and new is not None:
                    self._remember(target, (str(new),), (entity_type.id, name))
            elif attribute.kind is AttributeKind.REFERENCE:
                self._set_reference(entity_type, attribute, row, value, current)
            else:
                collections[name] = value
        return collections

    def _check_mutable(
        self,
        entity_type: EntityType,
        attribute: Attribute,
        current: Row | None,
        column: str,
        new: Any,
    ) -> None:
        if current is None:
            return
        old = current.get(column)
        if attribute.is_primary_key and new != old:
            raise ImmutableAttributeError(entity_type.id, attribute.name)
        if attribute.is_immutable and old is not None and new != old:
            raise ImmutableAttributeError(entity_type.id, attribute.name)

    def _set_reference(
        self,
        entity_type: EntityType,
        attribute: Attribute,
        row: dict[str, Any],
        value: Any,
        current: Row | None,
    ) -> None:
        relation = self.tables.relation(entity_type, attribute.name)
        if not relation.pairs:
            raise ValidationError(f"{entity_type.id}.{attribute.name} is computed by the server.")
        if value is None:
            for local, _ in relation.pairs:
                self._check_mutable(entity_type, attribute, current, local, None)
                row[local] = None
            return
        target_type, key = self._reference(entity_type, attribute, relation, value)
        for (local, _), part in zip(relation.pairs, key, strict=True):
            if current is not None:
                self._check_mutable(entity_type, attribute, current, local, part)
            row[local] = part
        self._remember(target_type, key, (entity_type.id, attribute.name))

    def _reference(
        self, owner: EntityType, attribute: Attribute, relation: Relation, value: Any
    ) -> tuple[EntityType, Key]:
        """Read a wire reference ``{"__entity_type__": T, key...}`` aimed at ``relation``."""
        if type(value) is not dict or "__entity_type__" not in value:
            raise ValidationError(
                f"{owner.id}.{attribute.name} expects an entity reference, "
                f"got {type(value).__name__}."
            )
        target_type = self.schema.get(str(value["__entity_type__"]))
        if not _fits(target_type, self.schema.types[relation.target]):
            raise ValidationError(
                f"{owner.id}.{attribute.name} expects a {relation.target}, got a {target_type.id}."
            )
        key = []
        for _, name in relation.pairs:
            part = value.get(name)
            if part is None:
                raise ValidationError(
                    f"{owner.id}.{attribute.name}: the reference has no {name!r}."
                )
            key.append(part if isinstance(part, str) else str(part))
        return target_type, tuple(key)

    def _set_collection(
        self, owner: EntityType, row: Mapping[str, Any], name: str, items: Any
    ) -> None:
        """Make the collection ``name`` of the entity in ``row`` hold exactly ``items``."""
        attribute = owner.attribute(name)
        relation = self.tables.relation(owner, name)
        where = f"{owner.id}.{name}"
        if not isinstance(items, list):
            raise ValidationError(f"{where} expects a list of entity references.")
        if relation.tree or relation.derived:
            raise ValidationError(f"{where} is computed by the server and cannot be set.")
        target = self.schema.get(relation.target)
        keys = []
        for item in items:
            target_type, key = self._reference(owner, attribute, _by_key(target), item)
            self._remember(target_type, key, (owner.id, name))
            keys.append(key)
        owner_id = str(row[owner.primary_key[0]])
        if relation.link_table:
            self._replace_links(relation.link_table, owner_id, [key[0] for key in keys])
        elif relation.through:
            self._replace_through(relation, owner_id, [key[0] for key in keys])
        else:
            self._adopt(relation, target, row, keys)

    def _adopt(
        self, relation: Relation, target: EntityType, row: Mapping[str, Any], keys: list[Key]
    ) -> None:
        """Point the listed children at the owner; detach the others where that is allowed."""
        holders = {remote: row[local] for local, remote in relation.pairs}
        if any(name in target.primary_key for name in holders):
            return  # Membership is part of the child's key (metadata, custom attributes).
        values = {**holders, **relation.where}
        pending = self.pending[target.root.id]
        stored = [key for key in keys if key not in pending]
        for key in keys:
            if key in pending:
                pending[key].update(values)
        table = self.tables.of(target)
        for chunk in _chunks(stored):
            statement = table.update().where(self._keys_in(table, target, chunk)).values(**values)
            self.connection.execute(statement)
        if "parent_id" in holders and target.root.id == "Context":
            for key in stored:
                moved = self.fetch(target, key)
                if moved is not None:
                    self._move_context(moved)
        required = any(
            target.attributes[name].is_required for name in holders if name in target.attributes
        )
        if required:
            return
        listed = set(keys)
        for key, child in pending.items():
            if key not in listed and all(child.get(k) == v for k, v in holders.items()):
                child.update({name: None for name in holders})
        detach = table.update().where(
            *(table.c[name] == value for name, value in holders.items()),
            *(table.c[name] == value for name, value in relation.where.items()),
        )
        if listed:
            detach = detach.where(sa.not_(self._keys_in(table, target, list(listed))))
        self.connection.execute(detach.values(**{name: None for name in holders}))

    def _replace_links(self, name: str, owner_id: str, target_ids: list[str]) -> None:
        link = self.tables.links[name]
        self.connection.execute(link.delete().where(link.c.owner_id == owner_id))
        rows = [{"owner_id": owner_id, "target_id": target} for target in dict.fromkeys(target_ids)]
        if rows:
            self.connection.execute(link.insert(), rows)

    def _replace_through(self, relation: Relation, owner_id: str, target_ids: list[str]) -> None:
        """Create and delete link entities (list objects, ...) so they join exactly these."""
        assert relation.through is not None
        link_type = self.schema.get(relation.through)
        self.flush()
        table = self.tables.of(link_type)
        (_, remote), (onward, _) = relation.pairs[0], relation.onward[0]
        existing = {
            row[onward]: row
            for row in self.connection.execute(
                sa.select(*table.c).where(table.c[remote] == owner_id)
            ).mappings()
        }
        wanted = dict.fromkeys(target_ids)
        gone = [
            self._key_of(link_type, row) for target, row in existing.items() if target not in wanted
        ]
        self._delete_rows(link_type, gone)
        for target in wanted:
            if target not in existing:
                self.create(link_type.id, {remote: owner_id, onward: target})

    def _remember(self, target_type: EntityType, key: Key, source: tuple[str, str]) -> None:
        """Note a reference to check before the batch commits; ``source`` is (type, attribute)."""
        self.referenced[target_type.root.id].setdefault(key, source)

    # Flushing ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Derive dependent values for buffered entities, check them, and insert them."""
        if not any(self.pending.values()):
            self._check_references()
            return
        pending, self.pending = self.pending, defaultdict(dict)
        # Missing references first: they explain later failures (no parent, so no status).
        self._check_references(pending)
        if pending.get("Context"):
            self._derive_projects(pending["Context"])
            self.workflow.new_projects.update(
                (row["id"], row["project_schema_id"])
                for row in pending["Context"].values()
                if row[TYPE_COLUMN] == "Project"
            )
        # Custom attribute values last: they read configurations that may be new in this batch.
        order = sorted(pending, key=lambda root_id: root_id == "CustomAttributeValue")
        for root_id in order:
            if root_id == "CustomAttributeValue":
                self._configurations = None
            self._derive(root_id, pending[root_id], pending)
            if pending[root_id]:
                self._insert(self.schema.get(root_id), pending[root_id])
        if pending.get("Context"):
            ContextTree(self.tables, self.connection).add(pending["Context"])

    def _derive(
        self,
        root_id: str,
        rows: dict[Key, dict[str, Any]],
        pending: Mapping[str, dict[Key, dict[str, Any]]],
    ) -> None:
        if root_id == "AssetVersion":
            self._number_versions(list(rows.values()), pending)
        if root_id == "CustomAttributeValue":
            self._name_custom_attribute_values(list(rows.values()))
        for row in rows.values():
            entity_type = self.schema.get(row[TYPE_COLUMN])
            if root_id == "Context" and entity_type.id != "Project":
                object_type = row.get("object_type_id")
                if row.get("status_id") is None:
                    row["status_id"] = self.workflow.status(row.get("project_id"), object_type)
                if row.get("type_id") is None:
                    row["type_id"] = self.workflow.type(row.get("project_id"), object_type)
            for name in entity_type.required_attributes:
                if row.get(name) is None:
                    raise MissingAttributeError(entity_type.id, name)

    def _derive_projects(self, rows: dict[Key, dict[str, Any]]) -> None:
        """Set ``project_id`` of new contexts from their parent (new or stored)."""
        parents = {row["parent_id"] for row in rows.values() if row.get("parent_id")}
        stored = {}
        unknown = sorted(parent for parent in parents if (parent,) not in rows)
        table = self.tables.families["Context"]
        for chunk in _chunks(unknown):
            statement = sa.select(table.c.id, table.c.project_id, table.c[TYPE_COLUMN])
            for found in self.connection.execute(statement.where(table.c.id.in_(chunk))):
                stored[found.id] = found.id if found[2] == "Project" else found.project_id

        def project_of(row: dict[str, Any], depth: int = 0) -> Any:
            if row[TYPE_COLUMN] == "Project":
                return row["id"]
            parent = row.get("parent_id")
            if parent is None or depth > 1000:
                return row.get("project_id")
            if (parent,) in rows:
                return project_of(rows[(parent,)], depth + 1)
            return stored.get(parent, row.get("project_id"))

        for row in rows.values():
            row["project_id"] = project_of(row)

    def _number_versions(
        self, rows: list[dict[str, Any]], pending: Mapping[str, dict[Key, dict[str, Any]]]
    ) -> None:
        """Give new versions without a number the next one of their asset; default status."""
        table = self.tables.families["AssetVersion"]
        assets = sorted({row["asset_id"] for row in rows if row.get("asset_id")})
        latest: dict[str, int] = {}
        for chunk in _chunks(assets):
            statement = (
                sa.select(table.c.asset_id, sa.func.max(table.c.version))
                .where(table.c.asset_id.in_(chunk))
                .group_by(table.c.asset_id)
            )
            latest.update(
                {asset: number or 0 for asset, number in self.connection.execute(statement)}
            )
        for row in rows:
            asset = row.get("asset_id")
            if row.get("version") is None and asset:
                latest[asset] = latest.get(asset, 0) + 1
                row["version"] = latest[asset]
            if row.get("status_id") is None and asset:
                project = self._project_of_asset(asset, pending)
                row["status_id"] = self.workflow.status(project, None)

    def _project_of_asset(
        self, asset_id: str, pending: Mapping[str, dict[Key, dict[str, Any]]]
    ) -> str | None:
        """The project an asset belongs to, whether the asset and its context are new or not."""
        new_asset = pending.get("Asset", {}).get((asset_id,))
        if new_asset is not None:
            context_id = new_asset.get("context_id")
        else:
            asset = self.tables.families["Asset"]
            statement = sa.select(asset.c.context_id).where(asset.c.id == asset_id)
            context_id = self.connection.execute(statement).scalar()
        if context_id is None:
            return None
        context_row: Row | None = pending.get("Context", {}).get((context_id,))
        if context_row is None:
            context = self.tables.families["Context"]
            statement = sa.select(*context.c).where(context.c.id == context_id)
            context_row = self.connection.execute(statement).mappings().first()
        if context_row is None:
            return None
        project = (
            context_row["id"]
            if context_row[TYPE_COLUMN] == "Project"
            else context_row["project_id"]
        )
        return None if project is None else str(project)

    def _name_custom_attribute_values(self, rows: list[dict[str, Any]]) -> None:
        """Check values against their configuration; set ``key``, typed type, filter copies."""
        if self._configurations is None:
            configurations = load_configurations(self.tables, self.connection)
            self._configurations = {c.id: c for c in configurations}
        for row in rows:
            configuration = self._configurations.get(row.get("configuration_id") or "")
            if configuration is None:
                raise EntityNotFoundError(
                    "CustomAttributeConfiguration", (row.get("configuration_id"),)
                )
            row["key"] = configuration.key
            row["value"] = check_value(configuration, row.get("value"))
            row.update(index_columns(row["value"]))
            if row[TYPE_COLUMN] == "CustomAttributeValue":
                row[TYPE_COLUMN] = typed_value_type(configuration.entity_type)

    def _insert(self, root: EntityType, rows: dict[Key, dict[str, Any]]) -> None:
        table = self.tables.of(root)
        try:
            # A savepoint keeps the transaction usable when the key constraint refuses a row.
            with self.connection.begin_nested():
                bulk_insert(self.connection, table, list(rows.values()))
        except sa.exc.IntegrityError as exc:
            existing = self._existing_keys(root, list(rows))
            if not existing:
                raise
            key = existing[0]
            raise DuplicateEntityError(rows[key][TYPE_COLUMN], key) from exc

    def _existing_keys(self, root: EntityType, keys: list[Key]) -> list[Key]:
        table = self.tables.of(root)
        columns = [table.c[name] for name in root.primary_key]
        found: list[Key] = []
        for chunk in _chunks(keys):
            statement = sa.select(*columns).where(self._keys_in(table, root, chunk))
            found.extend(
                tuple(str(part) for part in row) for row in self.connection.execute(statement)
            )
        return sorted(found)

    def _check_references(self, pending: Mapping[str, dict[Key, Any]] | None = None) -> None:
        """Every entity referenced since the last check exists, stored or about to be."""
        referenced, self.referenced = self.referenced, defaultdict(dict)
        for root_id, wanted in referenced.items():
            root = self.schema.get(root_id)
            new = pending.get(root_id, {}) if pending else {}
            keys = [key for key in wanted if key not in new]
            found = set(self._existing_keys(root, keys)) if keys else set()
            for key in keys:
                if key not in found:
                    raise ReferenceNotFoundError(".".join(wanted[key]), root.id, key)

    # Deleting ------------------------------------------------------------------------------

    def _cascade(self, root: EntityType, keys: list[Key]) -> dict[str, set[Key]]:
        """Everything to delete with ``keys``: children a level at a time, a query per rule."""
        doomed: dict[str, set[Key]] = defaultdict(set)
        frontier: dict[str, set[Key]] = {root.id: set(keys)}
        while frontier:
            next_frontier: dict[str, set[Key]] = defaultdict(set)
            for root_id, level in frontier.items():
                fresh = level - doomed[root_id]
                doomed[root_id] |= fresh
                if not fresh:
                    continue
                for relation in _dependents(self.tables, self.schema.get(root_id)):
                    self._collect(relation, fresh, next_frontier)
            frontier = {k: v for k, v in next_frontier.items() if v - doomed[k]}
        return doomed

    def _collect(self, relation: Relation, owners: set[Key], into: dict[str, set[Key]]) -> None:
        owner_ids = sorted(key[0] for key in owners)
        if relation.link_table:
            link = self.tables.links[relation.link_table]
            for chunk in _chunks(owner_ids):
                self.connection.execute(link.delete().where(link.c.owner_id.in_(chunk)))
            return
        child_type = self.schema.get(relation.through or relation.target)
        table = self.tables.of(child_type)
        remote = relation.pairs[0][1]
        columns = [table.c[name] for name in child_type.root.primary_key]
        for chunk in _chunks(owner_ids):
            statement = sa.select(*columns).where(table.c[remote].in_(chunk))
            statement = statement.where(*(table.c[k] == v for k, v in relation.where.items()))
            for found in self.connection.execute(statement):
                into[child_type.root.id].add(tuple(str(part) for part in found))

    def _delete_rows(self, entity_type: EntityType, keys: Iterable[Key]) -> None:
        table = self.tables.of(entity_type)
        for chunk in _chunks(sorted(keys)):
            self.connection.execute(
                table.delete().where(self._keys_in(table, entity_type.root, chunk))
            )

    def _move_context(self, row: Row) -> None:
        """After a context changes parent: re-link it in the tree index and give it and its
        descendants the parent's project."""
        table = self.tables.families["Context"]
        subtree = ContextTree(self.tables, self.connection).move(row["id"])
        if not row.get("parent_id"):
            return
        parent = self.connection.execute(
            sa.select(table.c.id, table.c.project_id, table.c[TYPE_COLUMN]).where(
                table.c.id == row["parent_id"]
            )
        ).first()
        if parent is None:
            return  # the reference check at the end of the batch reports the missing parent
        project = parent[0] if parent[2] == "Project" else parent[1]
        for chunk in _chunks(subtree):
            self.connection.execute(
                table.update().where(table.c.id.in_(chunk)).values(project_id=project)
            )

    # Keys ----------------------------------------------------------------------------------

    def _key_of(self, entity_type: EntityType, row: Row) -> Key:
        parts = []
        for name in entity_type.primary_key:
            if row.get(name) is None:
                raise MissingAttributeError(entity_type.id, name)
            parts.append(self._key_part(entity_type, name, row[name]))
        return tuple(parts)

    def _key_part(self, entity_type: EntityType, name: str, value: Any) -> str:
        if type(value) is str:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{entity_type.id}.{name} key values must be strings.")
        return str(value)

    def _key_filter(self, table: sa.Table, entity_type: EntityType, key: Key) -> list[Any]:
        return [
            table.c[name] == _column_value(entity_type, name, part)
            for name, part in zip(entity_type.primary_key, key, strict=True)
        ]

    def _keys_in(self, table: sa.Table, entity_type: EntityType, keys: Sequence[Key]) -> Any:
        names = entity_type.primary_key
        if len(names) == 1:
            return table.c[names[0]].in_([_column_value(entity_type, names[0], k[0]) for k in keys])
        return sa.tuple_(*(table.c[name] for name in names)).in_(
            [
                tuple(_column_value(entity_type, n, p) for n, p in zip(names, k, strict=True))
                for k in keys
            ]
        )


def _column_value(entity_type: EntityType, name: str, part: str) -> Any:
    attribute = entity_type.attributes.get(name)
    if (
        attribute is not None
        and attribute.data_type is not None
        and attribute.data_type.value == "integer"
    ):
        return int(part)
    return part


@functools.cache
def _fits(given: EntityType, expected: EntityType) -> bool:
    return given.is_a(expected)


def _by_key(target: EntityType) -> Relation:
    """A stand-in relation that reads collection items by the target's primary key."""
    return Relation(
        owner=target.id,
        name="items",
        target=target.id,
        is_collection=True,
        pairs=tuple((name, name) for name in target.primary_key),
    )


def _dependents(tables: Tables, root: EntityType) -> list[Relation]:
    """Relations whose rows are deleted with a row of ``root``'s family."""
    found: dict[tuple[Any, ...], Relation] = {}
    for member in root.descendants():
        cascading = set(member.storage.get("cascade", ()))
        for attribute in member.attributes.values():
            if attribute.kind is AttributeKind.SCALAR or attribute.is_restricted:
                continue
            relation = tables.relations[member.id, attribute.name]
            if relation.tree or relation.derived or not relation.is_collection:
                continue
            mapped = attribute.kind is AttributeKind.MAPPED_COLLECTION
            if relation.link_table or relation.through or mapped or attribute.name in cascading:
                if relation.pairs and len(relation.pairs) != 1:
                    continue
                signature = (relation.target, relation.pairs, relation.through, relation.link_table)
                found.setdefault(signature, relation)
    return list(found.values())


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]
