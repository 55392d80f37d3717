"""Differential test of the query language: shotbase on SQLite and PostgreSQL against an oracle.

Hypothesis builds a small random project (a tree of Sequences, Shots and Tasks with colliding
names, bids, statuses, descriptions, Timelogs and Metadata) through ``run_batch`` creates, then
random queries over it. Each query runs in-process through ``run_batch`` (following
``metadata.next.offset`` over a deliberately small page size) and through the plain-Python
oracle of :mod:`tests.integration.query_oracle`; the ids, and their order under ``order by``,
must agree. Every example makes its own project and every query is scoped to it with
``project_id is "<id>"``, so examples share one database per backend without seeing each other.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from shotbase.server.batch import run_batch
from shotbase.server.state import ServerState, prepare_database
from shotbase.settings import Settings
from shotbase.store.accounts import Account, find_user
from tests.integration.query_oracle import (
    And,
    Compare,
    Expression,
    Lit,
    Not,
    Or,
    Query,
    Relate,
    World,
    evaluate,
    render_query,
)

# Small pages make unlimited queries and long limits cross page boundaries.
PAGE_SIZE = 4
EXAMPLES = 80
QUERIES_PER_WORLD = 10
MAX_DEPTH = 3

NAME_ALPHABET = "ab1"
BIDS = [0.0, 1.0, 1.5, 2.0, 10.0, 3600.0, -1.0]
BID_LITERALS = [*BIDS, 5.0, 0.5]
# Quotes, backslashes and LIKE's own wildcards in values test escaping end to end.
DESCRIPTIONS = [None, None, "", "a", "b", "ab", "a b", "B", 'a"', "a%", "a_", "a\\"]
DURATIONS = [0.0, 60.0, 1800.5, 3600.0]
# Sums of a few durations, and bids minus them: what computed values compare with.
TIME_LOGGED = [0.0, 60.0, 1800.5, 1860.5, 3600.0, 5400.5]
BID_DIFFERENCES = [0.0, -60.0, 1.0, -1799.0, 1799.5, 3540.0]
COMMENTS = ["", "a", "ab", "b1"]
# Escaped wildcards (``\\%``, ``\\_``) and an escaped backslash match those characters literally.
LIKE_PIECES = ["a", "b", "1", "A", "B", " ", '"', "%", "%", "_", "\\%", "\\_", "\\\\"]
CONTEXT_TYPES = ["Sequence", "Shot", "Task"]
BASE_TYPES = ["Context", "TypedContext", "Sequence", "Shot", "Task"]
SPELLINGS = {
    "is": ["is", "="],
    "is_not": ["is_not", "!="],
    ">": [">", "after", "greater_than"],
    "<": ["<", "before", "less_than"],
    ">=": [">="],
    "<=": ["<="],
}
NAME_VALUES = [*NAME_ALPHABET, *(a + b for a in NAME_ALPHABET for b in NAME_ALPHABET), "c"]
DESCRIPTION_VALUES = sorted({d for d in DESCRIPTIONS if d is not None} | {"c"})
MISSING_ID = "ffffffff-0000-4000-8000-000000000000"
SERIAL = itertools.count(1)
# Keeps ids unique when a database outlives one run (the serial starts again at 1).
RUN = uuid.uuid4().hex[:4]


# Building data -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContextSpec:
    type: str
    name: str
    parent: int  # index of an earlier context, -1 for the project
    bid: float
    description: str | None
    status: int  # index into the seeded statuses


@dataclass(frozen=True, slots=True)
class WorldSpec:
    contexts: tuple[ContextSpec, ...]
    ranks: tuple[int, ...]  # id order: ranks[0] the project, ranks[i + 1] context i
    timelogs: tuple[tuple[int, float, str | None, str], ...]  # owner, duration, name, comment
    metadata: tuple[tuple[int, str, str], ...]  # owner, key, value


names = st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=2)


@st.composite
def world_specs(draw: st.DrawFn, status_count: int) -> WorldSpec:
    contexts: list[ContextSpec] = []
    for index in range(draw(st.integers(0, 10))):
        contexts.append(
            ContextSpec(
                type=draw(st.sampled_from(CONTEXT_TYPES)),
                name=draw(names),
                parent=draw(st.integers(-1, index - 1)),
                bid=draw(st.sampled_from(BIDS)),
                description=draw(st.sampled_from(DESCRIPTIONS)),
                status=draw(st.integers(0, status_count - 1)),
            )
        )
    owners = st.integers(-1, len(contexts) - 1)
    timelogs = draw(
        st.lists(
            st.tuples(
                owners,
                st.sampled_from(DURATIONS),
                st.none() | names,
                st.sampled_from(COMMENTS),
            ),
            max_size=4,
        )
    )
    metadata = draw(
        st.lists(st.tuples(owners, names, names), max_size=5, unique_by=lambda item: item[:2])
    )
    ranks = draw(st.permutations(range(len(contexts) + 1)))
    return WorldSpec(tuple(contexts), tuple(ranks), tuple(timelogs), tuple(metadata))


def _new_id(rank: int) -> str:
    # The drawn rank decides the id order (so failures replay); the serial keeps ids unique.
    return f"{rank:08x}-{RUN}-4000-8000-{next(SERIAL):012x}"


@dataclass
class Harness:
    """An in-process server state on one database, and what it was seeded with."""

    state: ServerState
    account: Account
    schema_id: str
    statuses: dict[str, dict[str, Any]]
    states: dict[str, dict[str, Any]]

    def call(self, *operations: dict[str, Any]) -> list[Any]:
        outcome: Any = run_batch(
            self.state, self.account, list(operations), base_url="http://testserver", options={}
        )
        # ``run_batch`` returns an outcome with ``results``; tolerate a (results, ...) tuple.
        results = getattr(outcome, "results", outcome)
        if isinstance(results, tuple):
            results = results[0]
        return list(results)

    def query(self, expression: str) -> dict[str, Any]:
        result = self.call({"action": "query", "expression": expression})[0]
        assert isinstance(result, dict)
        return result

    def build(self, spec: WorldSpec) -> World:
        """Create the spec's entities in one batch and return them as the oracle sees them."""
        world = World(statuses=self.statuses, states=self.states)
        project_id = _new_id(spec.ranks[0])
        project = {"__type__": "Project", "id": project_id, "name": f"p{next(SERIAL)}"}
        world.contexts[project_id] = {**project, "parent_id": None, "project_id": project_id}
        operations = [
            _create(
                "Project",
                id=project_id,
                name=project["name"],
                full_name=project["name"].upper(),
                project_schema_id=self.schema_id,
            )
        ]
        ids = [_new_id(rank) for rank in spec.ranks[1:]]
        status_ids = sorted(self.statuses)
        for context_id, context in zip(ids, spec.contexts, strict=True):
            parent_id = project_id if context.parent < 0 else ids[context.parent]
            parent_type = world.contexts[parent_id]["__type__"]
            row = {
                "id": context_id,
                "name": context.name,
                "bid": context.bid,
                "description": context.description,
                "status_id": status_ids[context.status],
            }
            world.contexts[context_id] = {
                "__type__": context.type,
                **row,
                "parent_id": parent_id,
                "project_id": project_id,
            }
            parent = {"__entity_type__": parent_type, "id": parent_id}
            operations.append(_create(context.type, **row, parent=parent))
        owner_ids = [*ids, project_id]  # index -1 is the project
        for owner, duration, name, comment in spec.timelogs:
            timelog = {
                "id": _new_id(0),
                "context_id": owner_ids[owner],
                "duration": duration,
                "name": name,
                "comment": comment,
            }
            world.timelogs.append(timelog)
            operations.append(_create("Timelog", **timelog, start="2024-03-01T09:00:00"))
        for owner, key, value in spec.metadata:
            item = {"parent_id": owner_ids[owner], "key": key, "value": value}
            world.metadata.append(item)
            parent_type = world.contexts[owner_ids[owner]]["__type__"]
            operations.append(_create("Metadata", **item, parent_type=parent_type))
        self.call(*operations)
        return world

    def fetch(self, query: Query) -> list[str]:
        """Ids the server answers, following ``metadata.next.offset`` like a client."""
        ids: list[str] = []
        offset, remaining = query.offset, query.limit
        while True:
            result = self.query(render_query(query, offset=offset, limit=remaining))
            ids.extend(row["id"] for row in result["data"])
            following = result["metadata"]["next"]["offset"]
            if following is None:
                return ids
            if remaining is not None:
                remaining -= len(result["data"])
                if remaining <= 0:
                    return ids
            offset = following


def _create(entity_type: str, **data: Any) -> dict[str, Any]:
    return {"action": "create", "entity_type": entity_type, "entity_data": data}


@pytest.fixture(scope="module")
def harness(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    data_dir: Path = tmp_path_factory.mktemp("data")
    settings_ = Settings(data=str(data_dir), database=database_url, page_size_limit=PAGE_SIZE)
    state = ServerState.open(settings_)
    prepare_database(state)
    with state.database.transaction(write=False) as connection:
        account = find_user(state.tables, connection, "admin")
    assert account is not None
    partial = Harness(state, account, "", {}, {})
    rows = _all(partial, "select id, name, short from State")
    states = {
        row["id"]: {"id": row["id"], "name": row["name"], "short": row["short"]} for row in rows
    }
    statuses = {
        row["id"]: {"id": row["id"], "name": row["name"], "state_id": row["state"]["id"]}
        for row in _all(partial, "select id, name, state.id from Status")
    }
    schema_id = partial.query("select id from ProjectSchema limit 1")["data"][0]["id"]
    yield Harness(state, account, schema_id, statuses, states)
    state.close()


def _all(harness: Harness, expression: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        result = harness.query(f"{expression} offset {offset}")
        rows.extend(result["data"])
        offset = result["metadata"]["next"]["offset"]
    return rows


# Generating queries --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Values worth comparing with: what the world holds, plus near misses."""

    ids: tuple[str, ...]
    status_names: tuple[str, ...]
    state_names: tuple[str, ...]
    state_shorts: tuple[str, ...]


def _string(draw: st.DrawFn, value: str) -> Lit:
    if value.isalnum() and value.islower() and draw(st.booleans()):
        return Lit(value, value)  # a bare word
    return Lit(value, _quoted(value))


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _number(draw: st.DrawFn, value: float) -> Lit:
    text = f"{value:g}"
    return Lit(value, f'"{text}"' if draw(st.integers(0, 4)) == 0 else text)


def nones() -> st.SearchStrategy[Lit]:
    return st.builds(Lit, st.none(), st.sampled_from(["None", "none", "null", "NULL"]))


@st.composite
def comparisons(
    draw: st.DrawFn,
    path: tuple[str, ...],
    kind: str,
    values: Sequence[Any],
    *,
    null_certain: bool = True,
) -> Compare:
    """A comparison of ``path`` (of value kind "string" or "number") with drawn literals.

    ``null_certain`` allows the forms that are true or false, not unknown, on NULL: ``is None``,
    ``is_not None`` and ``in``/``not_in`` an empty list.
    """

    def literal() -> Lit:
        value = draw(st.sampled_from(values))
        return _string(draw, value) if kind == "string" else _number(draw, value)

    operators = ["is", "is_not", ">", "<", "in", "not_in"]
    operators += ["like", "not_like"] if kind == "string" else [">=", "<="]
    if null_certain:
        operators += ["is None", "is_not None"]
    operator = draw(st.sampled_from(operators))
    if operator.endswith(" None"):
        operator = operator.split()[0]
        return Compare(path, operator, draw(nones()), draw(st.sampled_from(SPELLINGS[operator])))
    if operator in ("in", "not_in"):
        size = draw(st.integers(0 if null_certain else 1, 3))
        items = [literal() for _ in range(size)]
        if draw(st.integers(0, 5)) == 0:
            items.append(draw(nones()))
        return Compare(path, operator, tuple(items))
    if operator in ("like", "not_like"):
        pattern = "".join(draw(st.lists(st.sampled_from(LIKE_PIECES), min_size=1, max_size=4)))
        return Compare(path, operator, Lit(pattern, _quoted(pattern)))
    return Compare(path, operator, literal(), draw(st.sampled_from(SPELLINGS[operator])))


@st.composite
def context_atoms(
    draw: st.DrawFn, vocab: Vocabulary, depth: int, may_be_project: bool
) -> Expression:
    """One criterion on a context row; ``may_be_project`` when the row can be a Project."""
    names = NAME_VALUES
    # ``bid`` and ``description`` exist on TypedContext only: on a Project every comparison
    # with them, ``is None`` included, is unknown.
    null_certain = True
    ids = [*vocab.ids, MISSING_ID]
    choices: list[st.SearchStrategy[Expression]] = [
        comparisons(("name",), "string", names),
        comparisons(("name",), "string", names),
        comparisons(("description",), "string", DESCRIPTION_VALUES, null_certain=null_certain),
        comparisons(("bid",), "number", BID_LITERALS, null_certain=null_certain),
        comparisons(("id",), "string", ids),
        comparisons(("parent_id",), "string", ids),
        comparisons(("parent", "name"), "string", names),
        comparisons(("parent", "parent", "name"), "string", names),
        comparisons(("status", "name"), "string", vocab.status_names),
        comparisons(("status", "state", "short"), "string", vocab.state_shorts),
        comparisons(("children", "name"), "string", names),
        comparisons(("children", "bid"), "number", BID_LITERALS),
        comparisons(("timelogs", "duration"), "number", DURATIONS),
        comparisons(("timelogs", "name"), "string", names),
        comparisons(("metadata", "key"), "string", names),
        comparisons(("metadata", "value"), "string", names),
        comparisons(("ancestors", "name"), "string", names),
        comparisons(("descendants", "bid"), "number", BID_LITERALS),
        comparisons(("time_logged",), "number", TIME_LOGGED),
        comparisons(("bid_time_logged_difference",), "number", BID_DIFFERENCES),
        comparisons(("children", "time_logged"), "number", TIME_LOGGED),
        st.builds(Compare, st.just(("parent",)), st.sampled_from(["is", "is_not"]), nones()),
    ]
    if depth > 0:
        inner = depth - 1
        choices += [
            relations(("parent",), "has", expressions("context", vocab, inner, True)),
            relations(("status",), "has", expressions("status", vocab, inner)),
            relations(("status", "state"), "has", expressions("state", vocab, inner)),
            relations(("children",), "any", expressions("context", vocab, inner)),
            relations(("timelogs",), "any", expressions("timelog", vocab, inner)),
            relations(("metadata",), "any", expressions("metadata", vocab, inner)),
            relations(("ancestors",), "any", expressions("context", vocab, inner)),
            relations(("descendants",), "any", expressions("context", vocab, inner)),
            relations(("parent", "children"), "any", expressions("context", vocab, inner)),
        ]
    return draw(st.one_of(choices))


@st.composite
def relations(
    draw: st.DrawFn,
    path: tuple[str, ...],
    relation: str,
    criteria: st.SearchStrategy[Expression],
) -> Relate:
    """``path has (...)``, ``path any (...)`` or, for collections, ``path any ()``."""
    if relation == "any" and draw(st.integers(0, 3)) == 0:
        return Relate(path, "any", None)
    return Relate(path, relation, draw(criteria))


@st.composite
def atoms(
    draw: st.DrawFn, kind: str, vocab: Vocabulary, depth: int, may_be_project: bool
) -> Expression:
    if kind == "context":
        return draw(context_atoms(vocab, depth, may_be_project))
    if kind == "status":
        choices: list[st.SearchStrategy[Expression]] = [
            comparisons(("name",), "string", vocab.status_names),
            comparisons(("state", "short"), "string", vocab.state_shorts),
            comparisons(("state", "name"), "string", vocab.state_names),
        ]
        if depth > 0:
            choices.append(relations(("state",), "has", expressions("state", vocab, depth - 1)))
        return draw(st.one_of(choices))
    if kind == "state":
        return draw(
            comparisons(("short",), "string", vocab.state_shorts)
            | comparisons(("name",), "string", vocab.state_names)
        )
    if kind == "timelog":
        return draw(
            comparisons(("duration",), "number", DURATIONS)
            | comparisons(("name",), "string", NAME_VALUES)
            | comparisons(("comment",), "string", COMMENTS)
        )
    assert kind == "metadata", kind
    return draw(
        comparisons(("key",), "string", NAME_VALUES)
        | comparisons(("value",), "string", NAME_VALUES)
    )


@st.composite
def expressions(
    draw: st.DrawFn, kind: str, vocab: Vocabulary, depth: int, may_be_project: bool = False
) -> Expression:
    """A random criterion on rows of ``kind``, nesting at most ``depth`` relations deep."""
    shape = draw(st.sampled_from(["atom", "atom", "atom", "and", "or", "not"]))
    if shape == "atom" or depth <= 0:
        return draw(atoms(kind, vocab, depth, may_be_project))
    child = expressions(kind, vocab, depth - 1, may_be_project)
    if shape == "not":
        return Not(draw(child))
    items = tuple(draw(st.lists(child, min_size=2, max_size=3)))
    return And(items) if shape == "and" else Or(items)


ORDER_KEYS: dict[str, list[tuple[str, ...]]] = {
    # Only keys that are never NULL: SQLite and PostgreSQL sort NULL at opposite ends.
    "Context": [("name",), ("id",)],
    "TypedContext": [
        ("name",),
        ("bid",),
        ("parent", "name"),
        ("status", "name"),
        ("time_logged",),
        ("bid_time_logged_difference",),
        ("id",),
    ],
}


@st.composite
def queries(draw: st.DrawFn, vocab: Vocabulary, project_id: str) -> Query:
    entity_type = draw(st.sampled_from(BASE_TYPES))
    scope = Compare(("project_id",), "is", Lit(project_id, f'"{project_id}"'))
    where = None
    if draw(st.integers(0, 9)) > 0:
        where = draw(expressions("context", vocab, MAX_DEPTH, entity_type == "Context"))
    if not draw(st.booleans()):
        return Query(entity_type, scope, where)
    keys = ORDER_KEYS["Context" if entity_type == "Context" else "TypedContext"]
    chosen = draw(st.lists(st.sampled_from(keys), max_size=2, unique=True))
    order = [(path, draw(st.booleans())) for path in chosen]
    if ("id",) not in chosen:
        # A unique last key makes the expected order exact.
        order.append((("id",), draw(st.booleans())))
    offset = draw(st.none() | st.integers(0, 5))
    limit = draw(st.none() | st.integers(0, 6))
    return Query(entity_type, scope, where, tuple(order), offset, limit)


# The test ------------------------------------------------------------------------------------


def describe(world: World) -> str:
    """A compact dump of a world for failure messages."""
    lines = [
        f"{c['__type__']} {c['id']} name={c['name']!r} parent={c['parent_id']} "
        f"bid={c.get('bid')} description={c.get('description')!r} "
        f"status={world.statuses[c['status_id']]['name'] if c.get('status_id') else None!r}"
        for c in world.contexts.values()
    ]
    lines += [f"Timelog {t}" for t in world.timelogs]
    lines += [f"Metadata {m}" for m in world.metadata]
    return "\n".join(lines)


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_query_results_match_the_oracle(harness: Harness, data: st.DataObject) -> None:
    spec = data.draw(world_specs(len(harness.statuses)), label="world")
    world = harness.build(spec)
    vocab = Vocabulary(
        ids=tuple(world.contexts),
        status_names=tuple(sorted({s["name"] for s in harness.statuses.values()})) + ("Nope",),
        state_names=tuple(sorted({s["name"] for s in harness.states.values()})),
        state_shorts=tuple(sorted({s["short"] for s in harness.states.values()})) + ("NOPE",),
    )
    project_id = next(c["id"] for c in world.contexts.values() if c["__type__"] == "Project")
    for _ in range(QUERIES_PER_WORLD):
        query = data.draw(queries(vocab, project_id))
        text = render_query(query)
        note(text)
        expected = evaluate(world, query)
        got = harness.fetch(query)
        if not query.order_by:
            expected, got = sorted(expected), sorted(got)
        assert got == expected, f"{text}\n{describe(world)}"
