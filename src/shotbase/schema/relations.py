"""How references and collections join entity types.

Most joins follow from names: a reference ``status`` is held by the scalar ``status_id``, and a
collection of ``Asset`` on ``Context`` is the set of assets whose reference back to a context
points at this one. Where names do not tell, a type's ``storage.relations`` entry in the
definition says it explicitly, in one of these forms::

    {"local": ["user_id"]}                                 reference held by other scalars
    {"remote": ["parent_id"]}                              collection: target rows whose
                                                           scalars point at our key
    {"remote": ["context_id"], "where": {"type": "x"}}     ... restricted to some rows
    {"through": "ListObject", "remote": ["list_id"],       collection through an entity type
     "onward": ["entity_id"]}
    {"link_table": "context_scope"}                        many-to-many through a hidden table
    {"tree": "ancestors"} / {"tree": "descendants"}        the context tree, computed
    {"derived": "latest_version"}                          computed by a named rule: an
                                                           asset's highest version, or
    {"derived": "thumbnail"}                               the component a review session's
                                                           computed ``thumbnail_id`` names
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shotbase.errors import SchemaError
from shotbase.schema.model import AttributeKind, EntityType, Schema

__all__ = ["Relation", "resolve_relations"]


@dataclass(frozen=True, slots=True)
class Relation:
    """How one reference or collection attribute reaches its target rows.

    ``pairs`` lists (attribute on the owner, attribute on the target or link entity) that must
    be equal. ``through`` names the link entity type when there is one; ``onward`` then pairs
    attributes of the link entity with the target's key.
    """

    owner: str
    name: str
    target: str
    is_collection: bool
    pairs: tuple[tuple[str, str], ...] = ()
    where: Mapping[str, Any] = field(default_factory=dict)
    through: str | None = None
    onward: tuple[tuple[str, str], ...] = ()
    link_table: str | None = None
    tree: str | None = None
    derived: str | None = None

    def __repr__(self) -> str:
        return f"Relation({self.owner}.{self.name} -> {self.target})"


def resolve_relations(schema: Schema) -> dict[tuple[str, str], Relation]:
    """Resolve every reference and collection of every type.

    Raises:
        SchemaError: If a relation can be resolved neither by name nor by definition.
    """
    relations: dict[tuple[str, str], Relation] = {}
    unresolved: list[str] = []
    # References first: collections are found as the inverse of references.
    for kind_pass in (False, True):
        for entity_type in schema.types.values():
            for attribute in entity_type.attributes.values():
                if attribute.kind is AttributeKind.SCALAR or attribute.is_restricted:
                    continue
                is_collection = attribute.kind is not AttributeKind.REFERENCE
                if is_collection != kind_pass:
                    continue
                relation = _resolve(schema, entity_type, attribute.name, relations)
                if relation is None:
                    unresolved.append(f"{entity_type.id}.{attribute.name}")
                else:
                    relations[entity_type.id, attribute.name] = relation
    if unresolved:
        raise SchemaError("Cannot tell how these attributes join: " + ", ".join(unresolved))
    return relations


def _explicit(entity_type: EntityType, name: str) -> Mapping[str, Any] | None:
    current: EntityType | None = entity_type
    while current is not None:
        spec = current.storage.get("relations", {}).get(name)
        if spec is not None:
            return spec  # type: ignore[no-any-return]
        current = current.base
    return None


def _resolve(
    schema: Schema,
    owner: EntityType,
    name: str,
    known: dict[tuple[str, str], Relation],
) -> Relation | None:
    attribute = owner.attributes[name]
    assert attribute.target is not None
    target = schema.get(attribute.target)
    is_collection = attribute.kind is not AttributeKind.REFERENCE
    spec = _explicit(owner, name)
    base: dict[str, Any] = {
        "owner": owner.id,
        "name": name,
        "target": target.id,
        "is_collection": is_collection,
    }
    if spec is not None:
        return _from_spec(schema, owner, target, spec, base)
    if not is_collection:
        holder = f"{name}_id"
        if holder in owner.attributes and len(target.primary_key) == 1:
            return Relation(**base, pairs=((holder, target.primary_key[0]),))
        return None
    if attribute.kind is AttributeKind.MAPPED_COLLECTION:
        # Metadata rows point at their owner by parent_id, custom attribute values by entity_id.
        holder = "parent_id" if target.id == "Metadata" else "entity_id"
        return Relation(**base, pairs=((owner.primary_key[0], holder),))
    inverse = _inverse_reference(owner, target, known)
    if inverse is None or len(owner.primary_key) != 1:
        return None
    return Relation(**base, pairs=tuple((remote, local) for local, remote in inverse.pairs))


def _from_spec(
    schema: Schema,
    owner: EntityType,
    target: EntityType,
    spec: Mapping[str, Any],
    base: dict[str, Any],
) -> Relation:
    if "derived" in spec:
        return Relation(**base, derived=spec["derived"])
    if "tree" in spec:
        return Relation(**base, tree=spec["tree"])
    if "link_table" in spec:
        return Relation(**base, link_table=spec["link_table"])
    if "local" in spec:
        return Relation(**base, pairs=tuple(zip(spec["local"], target.primary_key, strict=True)))
    if "through" in spec:
        link = schema.get(spec["through"])
        pairs = tuple(zip(owner.primary_key, spec["remote"], strict=True))
        onward = tuple(zip(spec["onward"], target.primary_key, strict=True))
        return Relation(**base, pairs=pairs, through=link.id, onward=onward)
    if "remote" in spec:
        locals_ = spec.get("local_key", owner.primary_key)
        pairs = tuple(zip(locals_, spec["remote"], strict=True))
        return Relation(**base, pairs=pairs, where=spec.get("where", {}))
    raise SchemaError(f"{owner.id}.{base['name']}: storage relation {dict(spec)!r} has no form.")


def _inverse_reference(
    owner: EntityType, target: EntityType, known: dict[tuple[str, str], Relation]
) -> Relation | None:
    """The one reference on ``target`` that points back at ``owner`` or one of its bases."""
    candidates = [
        relation
        for (type_id, _), relation in known.items()
        if type_id == target.id
        and not relation.is_collection
        and relation.pairs
        and _points_at(relation.target, owner)
    ]
    return candidates[0] if len(candidates) == 1 else None


def _points_at(type_id: str, owner: EntityType) -> bool:
    current: EntityType | None = owner
    while current is not None:
        if current.id == type_id:
            return True
        current = current.base
    return False
