"""Decoding and merging server answers: entity storage, the identity map, shared values."""

from __future__ import annotations

import gc
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from shotbase.client import NOT_SET, Session
from shotbase.client.entity import Entity, shape_of
from shotbase.client.merge import EntityIndex
from shotbase.errors import MalformedResponseError, UnknownEntityTypeError

PROJECT = str(uuid.uuid4())


@pytest.fixture
def session(local_path: Path) -> Iterator[Session]:
    """A session that is never asked to load anything (auto-population off)."""
    with Session.local(local_path, auto_populate=False) as opened:
        yield opened


def shot_row(index: int, **extra: Any) -> dict[str, Any]:
    return {
        "__entity_type__": "Shot",
        "id": f"shot-{index}",
        "project_id": PROJECT,
        "context_type": "task",
        "name": f"sh{index:03d}",
        **extra,
    }


def task_row(index: int, parent: Any) -> dict[str, Any]:
    return {
        "__entity_type__": "Task",
        "id": f"task-{index}",
        "project_id": PROJECT,
        "context_type": "task",
        "name": f"task{index % 10}",
        "parent": parent,
    }


def page(rows: list[Any]) -> bytes:
    """A query answer as the server sends it."""
    return orjson.dumps([{"action": "query", "data": rows, "metadata": {"next": None}}])


def decode_page(session: Session, rows: list[Any]) -> list[Any]:
    data: list[Any] = session.decode(page(rows))[0]["data"]
    return data


def test_a_page_becomes_entities_with_their_references(session: Session) -> None:
    rows = [task_row(index, shot_row(index // 3)) for index in range(9)]
    # The server sends an entity once per answer, then only its key.
    rows[1]["parent"] = {"__entity_type__": "Shot", "id": "shot-0"}

    tasks = decode_page(session, rows)

    assert [task["name"] for task in tasks] == [f"task{index}" for index in range(9)]
    assert [task["parent"]["name"] for task in tasks] == ["sh000"] * 3 + ["sh001"] * 3 + [
        "sh002"
    ] * 3
    assert tasks[0]["parent"] is tasks[1]["parent"] is session.get("Shot", "shot-0")
    assert tasks[4] is session.get("Task", "task-4")


def test_entities_of_one_answer_share_equal_strings(session: Session) -> None:
    tasks = decode_page(session, [task_row(index, shot_row(index)) for index in range(20)])

    assert tasks[0]["project_id"] is tasks[19]["project_id"] is tasks[3]["parent"]["project_id"]
    assert tasks[1]["name"] is tasks[11]["name"]
    assert tasks[0]["id"] == "task-0"


def test_entities_from_a_query_get_local_values_on_first_change(session: Session) -> None:
    first, second = decode_page(session, [shot_row(1), shot_row(2)])
    attribute = first.attributes.get("name")

    assert attribute.get_local_value(first) is NOT_SET and not attribute.is_modified(first)
    assert first._local_values is None
    first["name"] = "renamed"
    assert first._local_values == {"name": "renamed"} and second._local_values is None
    assert (first["name"], attribute.get_remote_value(first)) == ("renamed", "sh001")
    session.rollback()


def test_a_later_answer_adds_and_updates_remote_values(session: Session) -> None:
    shot = session.decode(orjson.dumps(shot_row(1)))
    shot["name"] = "local"
    session.decode(orjson.dumps({"__entity_type__": "Shot", "id": "shot-1", "description": "d"}))
    session.decode(page([shot_row(1, name="sh999"), shot_row(2)]))

    attribute = shot.attributes.get("name")
    assert shot["description"] == "d" and shot["project_id"] == PROJECT
    assert attribute.get_remote_value(shot) == "sh999"
    assert shot["name"] == "local"
    assert dict(shot._remote) == {
        "id": "shot-1",
        "project_id": PROJECT,
        "context_type": "task",
        "name": "sh999",
        "description": "d",
    }
    session.rollback()


def test_a_key_only_row_leaves_a_known_entity_unchanged(session: Session) -> None:
    shot = session.decode(orjson.dumps(shot_row(1)))
    before = shot._values

    decode_page(session, [{"__entity_type__": "Shot", "id": "shot-1"}, shot_row(2)])

    assert shot._values is before


def test_rows_repeating_an_entity_give_one_entity(session: Session) -> None:
    shots = decode_page(session, [shot_row(1), shot_row(2), shot_row(1)])

    assert shots[0] is shots[2] and shots[0] is not shots[1]


def test_references_of_several_types_are_merged(session: Session) -> None:
    sequence = {"__entity_type__": "Sequence", "id": "sequence-1", "name": "sq01"}
    rows = [task_row(0, shot_row(0)), task_row(1, sequence), task_row(2, None)]

    tasks = decode_page(session, rows)

    assert [type(task["parent"]).__name__ for task in tasks[:2]] == ["Shot", "Sequence"]
    assert tasks[1]["parent"]["name"] == "sq01" and tasks[2]["parent"] is None


def test_collections_keep_each_rows_members(session: Session) -> None:
    children = [shot_row(1), shot_row(2)]
    rows = [
        {"__entity_type__": "Sequence", "id": "sequence-1", "children": children},
        {"__entity_type__": "Sequence", "id": "sequence-2", "children": []},
        {"__entity_type__": "Sequence", "id": "sequence-3", "children": [shot_row(2)]},
    ]

    first, second, third = decode_page(session, rows)

    assert [shot["name"] for shot in first["children"]] == ["sh001", "sh002"]
    assert list(second["children"]) == []
    assert third["children"][0] is first["children"][1]


def test_datetimes_in_a_column_are_decoded(session: Session) -> None:
    when = {"__type__": "datetime", "value": "2024-03-01T09:30:00"}
    rows = [task_row(1, None) | {"start_date": when}, task_row(2, None) | {"start_date": None}]

    first, second = decode_page(session, rows)

    assert first["start_date"].isoformat() == "2024-03-01T09:30:00+00:00"
    assert second["start_date"] is None


@pytest.mark.parametrize(
    "rows",
    [
        [shot_row(1) | {"children": "not a list"}],
        [shot_row(1) | {"children": []}, shot_row(2) | {"children": {}}],
    ],
    ids=["one row", "page"],
)
def test_a_collection_that_is_not_a_list_is_refused(session: Session, rows: list[Any]) -> None:
    with pytest.raises(MalformedResponseError, match="Shot.children must be a list"):
        decode_page(session, rows)


@pytest.mark.parametrize("count", [1, 3], ids=["one row", "page"])
def test_an_entity_without_its_key_is_refused(session: Session, count: int) -> None:
    rows = [shot_row(index) for index in range(count)]
    del rows[-1]["id"]

    with pytest.raises(MalformedResponseError, match="no value for its key 'id'"):
        decode_page(session, rows)


def test_an_unknown_entity_type_is_refused(session: Session) -> None:
    with pytest.raises(UnknownEntityTypeError):
        decode_page(session, [{"__entity_type__": "Nothing", "id": "1"}] * 2)


def test_lists_of_other_values_are_kept(session: Session) -> None:
    decoded = session.decode(orjson.dumps({"values": [1, None, "a", [shot_row(1)], {"x": 1}]}))

    assert decoded["values"][:3] == [1, None, "a"] and decoded["values"][4] == {"x": 1}
    assert decoded["values"][3][0] is session.get("Shot", "shot-1")


def test_numeric_keys_are_kept_and_found_as_strings(session: Session) -> None:
    shots = decode_page(session, [shot_row(1) | {"id": 7}, shot_row(2) | {"id": 8}])

    assert shots[0]["id"] == 7 and session.get("Shot", 7) is shots[0]
    assert shots[1].identity == ("Shot", ("8",))


def test_remote_values_view_behaves_like_a_dict(session: Session) -> None:
    shot = session.decode(orjson.dumps(shot_row(1)))
    remote = shot._remote

    remote["description"] = "d"
    remote.update({"name": "x"}, status_id=None)
    del remote["context_type"]

    assert dict(remote) == {
        "id": "shot-1",
        "project_id": PROJECT,
        "name": "x",
        "description": "d",
        "status_id": None,
    }
    assert "context_type" not in remote and len(remote) == 5
    assert remote.get("context_type", "missing") == "missing"
    assert shot.attributes.get("context_type").get_remote_value(shot) is NOT_SET
    with pytest.raises(KeyError):
        del remote["context_type"]


def test_shapes_are_shared_and_extended_in_place() -> None:
    shape = shape_of(("id", "name"))
    extended, positions = shape.extended(("description", "id"))

    assert shape_of(("id", "name")) is shape and shape.names == ("id", "name")
    assert extended.names == ("id", "name", "description") and positions == (3, 1)
    assert shape.extended(("name",)) == (shape, (2,))


def test_entity_index_is_keyed_by_identity(session: Session) -> None:
    index = EntityIndex()
    shot = session.decode(orjson.dumps(shot_row(1)))
    metadata = session.decode(
        orjson.dumps({"__entity_type__": "Metadata", "parent_id": "p", "key": "k", "value": "v"})
    )

    index[shot.identity] = shot
    assert index.setdefault(metadata.identity, metadata) is metadata
    assert index.setdefault(metadata.identity, shot) is metadata

    assert index[("Shot", ("shot-1",))] is shot and ("Shot", ("shot-1",)) in index
    assert index.get(("Metadata", ("p", "k"))) is metadata
    assert sorted(index) == [("Metadata", ("p", "k")), ("Shot", ("shot-1",))]
    assert len(index) == 2 and ("Shot", ("other",)) not in index
    del index[shot.identity]
    assert index.get(shot.identity) is None and len(index) == 1
    with pytest.raises(KeyError):
        del index[shot.identity]
    with pytest.raises(KeyError):
        index[("Task", ("x",))]
    index.clear()
    assert len(index) == 0 and repr(index) == "EntityIndex(0 entities)"


def test_reset_forgets_entities_and_shared_strings(session: Session) -> None:
    decode_page(session, [shot_row(1), shot_row(2)])

    session.reset()

    assert session._identity.entities.shared_strings == {}
    assert session.get("Shot", "shot-1") is None


def test_plugin_classes_with_their_own_init_are_built_with_it(
    local_path: Path, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "counting.py").write_text(
        "BUILT = []\n"
        "def construct(event):\n"
        "    base = event['data']['base']\n"
        "    if event['data']['schema']['id'] != 'Shot':\n"
        "        return None\n"
        "    def __init__(self, session, state=0):\n"
        "        base.__init__(self, session, state)\n"
        "        BUILT.append(1)\n"
        "    cls = type('Shot', (base,), {'__slots__': (), '__init__': __init__})\n"
        "    return cls\n"
        "def register(session):\n"
        "    session.event_hub.subscribe(\n"
        "        'topic=ftrack.api.session.construct-entity-type', construct)\n"
    )
    with Session.local(local_path, plugin_paths=[str(plugins)], auto_populate=False) as opened:
        shots = decode_page(opened, [shot_row(1), shot_row(2)])
        single = opened.decode(orjson.dumps(shot_row(3)))

        module = type(shots[0]).__init__.__globals__
        assert len(module["BUILT"]) == 3
        assert single["name"] == "sh003" and shots[1]["name"] == "sh002"


def test_readers_see_whole_remote_values_while_answers_merge(session: Session) -> None:
    shot = session.decode(orjson.dumps(shot_row(1)))
    seen: set[Any] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add((shot["name"], shot["project_id"]))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for index in range(300):
            extra = {f"custom_{index % 7}": index} if index % 2 else {}
            session.decode(orjson.dumps(shot_row(1, **extra)))
    finally:
        stop.set()
        reader.join()
    assert seen == {("sh001", PROJECT)}


def test_decoded_entities_stay_small(session: Session) -> None:
    decode_page(session, [task_row(-1, shot_row(-1)), task_row(-2, shot_row(-2))])  # types
    text = page([task_row(index, shot_row(index // 10)) for index in range(2000)])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tasks = session.decode(text)[0]["data"]
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(tasks) == 2000 and isinstance(tasks[0], Entity)
    # About 330 bytes per task (its parent shared by ten tasks); it was over 1,000 before.
    assert retained / len(tasks) < 600


@pytest.fixture
def collector() -> Iterator[None]:
    """The cyclic garbage collector on, with nothing frozen, as most applications run."""
    enabled = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    try:
        yield
    finally:
        if not enabled:
            gc.disable()


def large_page(start: int) -> bytes:
    return page([task_row(start + index, shot_row(start + index)) for index in range(600)])


def test_a_large_answer_goes_straight_to_the_oldest_generation(
    session: Session, collector: None
) -> None:
    tasks = session.decode(large_page(10_000))[0]["data"]

    assert gc.isenabled() and gc.get_count()[0] < 100
    assert any(each is tasks[0] for each in gc.get_objects(generation=2))


def test_objects_the_application_froze_stay_frozen(session: Session, collector: None) -> None:
    gc.collect()  # so that the next collection is a young one
    gc.freeze()
    frozen = gc.get_freeze_count()
    try:
        tasks = session.decode(large_page(20_000))[0]["data"]

        assert gc.get_freeze_count() == frozen and gc.isenabled()
        assert not any(each is tasks[0] for each in gc.get_objects(generation=2))
    finally:
        gc.unfreeze()


def test_a_collector_the_application_turned_off_stays_off(session: Session) -> None:
    enabled = gc.isenabled()
    gc.disable()
    try:
        session.decode(large_page(30_000))

        assert not gc.isenabled()
    finally:
        if enabled:
            gc.enable()


def test_key_only_rows_make_missing_entities(session: Session) -> None:
    first, second = decode_page(
        session, [{"__entity_type__": "Shot", "id": "shot-1"}, {"__entity_type__": "Shot", "id": 2}]
    )

    assert dict(first._remote) == {"id": "shot-1"} and second["id"] == 2
    assert session.get("Shot", "shot-1") is first
    assert session.decode(orjson.dumps({"__entity_type__": "Shot", "id": "shot-1"})) is first


def test_rows_of_one_size_with_other_names_are_merged_apart(session: Session) -> None:
    named, described = decode_page(
        session,
        [
            {"__entity_type__": "Shot", "id": "shot-1", "name": "sh001"},
            {"__entity_type__": "Shot", "id": "shot-2", "description": "d"},
        ],
    )

    assert dict(named._remote) == {"id": "shot-1", "name": "sh001"}
    assert dict(described._remote) == {"id": "shot-2", "description": "d"}


def test_a_page_of_known_and_new_entities_updates_the_known(session: Session) -> None:
    known = session.decode(orjson.dumps(shot_row(2)))
    first, second = decode_page(session, [shot_row(1), shot_row(2, name="renamed")])
    third, fourth = decode_page(session, [shot_row(2, name="again"), shot_row(3)])

    assert second is third is known and known["name"] == "again"
    assert first["name"] == "sh001" and fourth["name"] == "sh003"


def test_unusual_values_are_kept_as_they_are(session: Session) -> None:
    rows = [
        task_row(1, None) | {"name": 5, "thumbnail_url": {"url": "a"}},
        task_row(2, None) | {"name": None, "thumbnail_url": None},
    ]

    first, second = decode_page(session, rows)

    assert (first["name"], first["thumbnail_url"]) == (5, {"url": "a"})
    assert (second["name"], second["thumbnail_url"]) == (None, None)


def test_objects_with_a_null_type_stay_plain_dicts(session: Session) -> None:
    rows = [{"__entity_type__": None, "id": "1"}, {"__entity_type__": None, "id": "2"}]

    assert decode_page(session, rows) == rows


def test_a_list_missing_a_key_in_one_of_its_types_is_refused(session: Session) -> None:
    with pytest.raises(MalformedResponseError, match="Sequence"):
        decode_page(session, [shot_row(1), {"__entity_type__": "Sequence", "name": "x"}])


def test_lists_of_a_type_with_a_composite_key_are_merged(session: Session) -> None:
    rows = [
        {"__entity_type__": "Metadata", "parent_id": "p", "key": key, "value": "v"}
        for key in ("a", "b")
    ]

    first, second = decode_page(session, rows)

    assert first.identity == ("Metadata", ("p", "a")) and second["key"] == "b"


def test_local_values_can_be_removed_before_any_change(session: Session) -> None:
    shot = session.decode(orjson.dumps(shot_row(1)))

    del shot["name"]
    shot.clear()

    assert shot["name"] == "sh001" and shot._local_values is None
    assert repr(shot._remote).startswith("RemoteValues({'id': 'shot-1'")


def test_shapes_past_the_limit_are_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    import shotbase.client.entity as entity_module

    monkeypatch.setattr(entity_module, "SHAPE_LIMIT", 0)
    names = (f"unshared_{uuid.uuid4().hex}",)

    assert shape_of(names) is not shape_of(names) and shape_of(names) == shape_of(names)
    assert shape_of(("id",)).extended(names)[0].names == ("id", *names)


def test_entity_index_refuses_unknown_types(session: Session) -> None:
    index = EntityIndex()

    with pytest.raises(KeyError):
        del index[("Nothing", ("x",))]
    assert index.get(("Nothing", ("x",))) is None and ("Nothing", ("x",)) not in index


def test_past_the_budget_large_answers_are_left_to_the_young_collections(
    session: Session, collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shotbase.client.merge as merge_module

    monkeypatch.setattr(merge_module, "PROMOTION_BUDGET", 0)
    gc.collect()  # so that the next collection is a young one

    tasks = session.decode(large_page(40_000))[0]["data"]

    assert not any(each is tasks[0] for each in gc.get_objects(generation=2))


def test_lists_mixing_entities_and_other_objects_merge_each(session: Session) -> None:
    rows = [shot_row(1) | {"id": 11}, {"__entity_type__": None, "id": "x"}]

    shot, other = decode_page(session, rows)

    assert session.get("Shot", "11") is shot and other == {"__entity_type__": None, "id": "x"}
    assert session.decode(orjson.dumps(shot_row(1) | {"id": 12})).identity == ("Shot", ("12",))


def test_the_table_of_shared_strings_is_bounded(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shotbase.client.merge as merge_module

    monkeypatch.setattr(merge_module, "SHARED_STRINGS_LIMIT", 1)
    decode_page(session, [shot_row(1), shot_row(2)])
    tasks = decode_page(session, [task_row(1, None), task_row(2, None)])

    assert len(session._identity.entities.shared_strings) <= 3
    assert [task["name"] for task in tasks] == ["task1", "task2"]


def test_views_name_what_is_missing(session: Session) -> None:
    shot = session.decode(orjson.dumps(shot_row(1)))
    index = session._identity.entities

    with pytest.raises(KeyError):
        shot._remote["description"]
    with pytest.raises(KeyError):
        index[("Shot", ("no such shot",))]
    malformed: Any = ("Shot", "shot-1")
    assert malformed not in index and index.get(malformed) is None
    assert ("Shot", ("shot-1",)) in index
    assert repr(shape_of(("id",))) == "Shape(('id',))"
    assert repr(session._identity).startswith("IdentityMap(")


def test_lists_with_empty_items_merge_the_others(session: Session) -> None:
    first, empty, second = decode_page(session, [shot_row(1), None, shot_row(2)])

    assert (first["name"], empty, second["name"]) == ("sh001", None, "sh002")
    not_an_identity: Any = "Shot"
    assert not_an_identity not in session._identity.entities
