"""Session behaviour against a real in-process server (Session.local)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

import shotbase
from shotbase.client import NOT_SET, FileCache, MemoryCache, SerialisedCache, Session
from shotbase.client.entity import Entity
from shotbase.errors import (
    ConnectionClosedError,
    ImmutableAttributeError,
    MultipleResultsFoundError,
    NoResultFoundError,
    NotSupportedError,
    ReferenceNotFoundError,
    UnknownAttributeError,
    UnknownEntityTypeError,
)
from tests.unit.client.conftest import make_tree, recording_session


def must_get(session: Session, entity_type: str, key: str) -> Entity:
    found = session.get(entity_type, key)
    assert found is not None
    return found


def test_local_session_reuses_its_database_and_key(local_path: Path) -> None:
    with Session.local(local_path) as first:
        project, _, _, _ = make_tree(first)
    with Session.local(local_path) as second:
        assert second.get("Project", project["id"]) is not None


def test_types_are_built_from_the_server_schemas(session: Session) -> None:
    assert len(session.types) == 116
    assert session.types["Shot"].primary_key_attributes == ("id",)
    assert session.types["Metadata"].primary_key_attributes == ("parent_id", "key")


def test_entity_behaves_like_a_dict(session: Session) -> None:
    _, _, shot, _ = make_tree(session)

    assert "name" in shot.keys()
    assert shot.get("name") == "sh010"
    assert dict(shot.items())["name"] == "sh010"
    assert "sh010" in shot.values()
    assert repr(shot).startswith("Shot(id='") and repr(shot).endswith("name='sh010')")
    with pytest.raises(KeyError):
        shot["no_such_attribute"]


def test_entities_are_equal_by_identity_and_cached(session: Session, local_path: Path) -> None:
    _, _, shot, _ = make_tree(session)
    with Session.local(local_path) as other:
        fetched = other.get("Shot", shot["id"])
        assert fetched is not None
        assert fetched == shot and hash(fetched) == hash(shot)
        assert other.get("Shot", shot["id"]) is fetched
        assert other.query(f'Shot where id is "{shot["id"]}"').one() is fetched


def test_query_pages_and_supports_all_first_one_len_and_index(session: Session) -> None:
    project, sequence, _, _ = make_tree(session)
    for index in range(7):
        session.create("Shot", {"name": f"extra{index}", "parent": sequence})
    session.commit()
    expression = f'Shot where project_id is "{project["id"]}" order by name'
    result = session.query(expression, page_size=3)

    assert len(result) == 8
    assert [shot["name"] for shot in session.query(expression, page_size=3)][:2] == [
        "extra0",
        "extra1",
    ]
    assert result[0]["name"] == "extra0"
    assert session.query(expression).first()["name"] == "extra0"
    assert len(session.query(f"{expression} limit 5", page_size=2).all()) == 5
    assert len(session.query(f"{expression} offset 6").all()) == 2
    with pytest.raises(MultipleResultsFoundError):
        session.query(expression).one()
    with pytest.raises(NoResultFoundError):
        session.query('Shot where name is "nothing here"').one()
    with pytest.raises(ValueError):
        session.query(f"{expression} limit 2").one()


def test_nested_projection_is_loaded_without_further_requests(session: Session) -> None:
    project, _, _, task = make_tree(session)
    with session.auto_populating(False):
        found = session.query(
            f'select name, parent.name from Task where project_id is "{project["id"]}"'
        ).one()
    assert found is task
    assert found["parent"]["name"] == "sh010"


def test_unloaded_attributes_are_fetched_lazily_unless_disabled(local_path: Path) -> None:
    with Session.local(local_path) as writer:
        _, _, shot, _ = make_tree(writer)
    with Session.local(local_path, auto_populate=False) as reader:
        found = reader.query(f'select id from Shot where id is "{shot["id"]}"').one()
        assert found.get("name") is NOT_SET
        with reader.auto_populating(True):
            assert found["name"] == "sh010"
            assert found["parent"]["name"] == "sq01"


def test_populate_loads_many_entities_in_one_request(session: Session, local_path: Path) -> None:
    project, sequence, _, _ = make_tree(session)
    session.create("Shot", {"name": "sh020", "parent": sequence})
    session.commit()
    other, recorder = recording_session(local_path)
    with other:
        shots = other.query(f'select id from Shot where project_id is "{project["id"]}"').all()
        recorder.sent.clear()
        other.populate(shots, "name, description")
        with other.auto_populating(False):
            assert sorted(shot["name"] for shot in shots) == ["sh010", "sh020"]
        assert len(recorder.sent) == 1


def test_local_and_remote_values_are_kept_apart(session: Session) -> None:
    _, _, shot, _ = make_tree(session)
    attribute = shot.attributes.get("name")
    shot["name"] = "renamed"

    assert attribute.get_local_value(shot) == "renamed"
    assert attribute.get_remote_value(shot) == "sh010"
    assert attribute.is_modified(shot)
    assert session.modified == [shot]
    session.commit()
    assert attribute.get_local_value(shot) is NOT_SET
    assert attribute.get_remote_value(shot) == "renamed"


def test_rollback_forgets_changes_and_created_entities(session: Session) -> None:
    _, sequence, shot, _ = make_tree(session)
    shot["name"] = "changed"
    new = session.create("Shot", {"name": "new", "parent": sequence})
    new_id = new["id"]
    session.delete(shot)

    assert session.created == [new] and session.deleted == [shot]
    session.rollback()
    assert shot["name"] == "sh010"
    assert (session.created, session.modified, session.deleted) == ([], [], [])
    session.commit()
    assert session.get("Shot", new_id) is None


def test_commit_sends_one_request_with_create_and_update_merged(local_path: Path) -> None:
    session, recorder = recording_session(local_path)
    _, sequence, _, _ = make_tree(session)
    sent = recorder.sent
    sent.clear()
    shot = session.create("Shot", {"name": "a", "parent": sequence})
    shot["description"] = "first"
    shot["description"] = "second"
    session.commit()

    assert len(sent) == 1
    assert [op["action"] for op in sent[0]] == ["create"]
    assert sent[0][0]["entity_data"]["description"] == "second"
    assert sent[0][0]["entity_data"]["parent"]["id"] == sequence["id"]


def test_delete_removes_the_entity(session: Session, local_path: Path) -> None:
    _, _, shot, task = make_tree(session)
    session.delete(task)
    session.commit()
    with Session.local(local_path) as other:
        assert other.get("Task", task["id"]) is None
        assert other.get("Shot", shot["id"]) is not None


def test_metadata_can_be_set_changed_and_removed(session: Session, local_path: Path) -> None:
    _, _, shot, _ = make_tree(session)
    shot["metadata"]["fps"] = "24"
    session.commit()
    shot["metadata"]["fps"] = "25"
    shot["metadata"]["lens"] = "35mm"
    session.commit()
    with Session.local(local_path) as other:
        assert dict(must_get(other, "Shot", shot["id"])["metadata"]) == {
            "fps": "25",
            "lens": "35mm",
        }
    del shot["metadata"]["fps"]
    session.commit()
    with Session.local(local_path) as other:
        assert dict(must_get(other, "Shot", shot["id"])["metadata"]) == {"lens": "35mm"}
    with pytest.raises(KeyError):
        del shot["metadata"]["missing"]


def test_metadata_of_an_entity_created_in_the_same_commit(session: Session) -> None:
    project, sequence, _, _ = make_tree(session)
    shot = session.create("Shot", {"name": "meta", "parent": sequence})
    shot["metadata"]["fps"] = "24"
    session.commit()

    assert dict(shot["metadata"]) == {"fps": "24"}


def test_custom_attributes_reject_unknown_keys(session: Session) -> None:
    _, _, shot, _ = make_tree(session)

    with pytest.raises(KeyError, match="created explicitly"):
        shot["custom_attributes"]["fstart"] = 1001


def test_collections_record_the_full_membership(session: Session) -> None:
    _, _, _, task = make_tree(session)
    user = session.query('User where username is "admin"').one()
    note = task.create_note("Looks good", author=user)
    reply = note.create_reply("Thanks", author=user)
    session.commit()

    assert [n["content"] for n in task["notes"]] == ["Looks good"]
    assert note["replies"] == [reply]
    with pytest.raises(ValueError):
        task["notes"].append(note)


def test_immutable_attributes_cannot_change_after_creation(session: Session) -> None:
    _, _, shot, _ = make_tree(session)

    with pytest.raises(ImmutableAttributeError):
        shot["id"] = "other"


def test_create_rejects_unknown_types_and_attributes(session: Session) -> None:
    with pytest.raises(UnknownEntityTypeError, match="Did you mean 'Shot'"):
        session.create("Shott", {})
    with pytest.raises(UnknownAttributeError):
        session.create("Shot", {"nmae": "x"})
    with pytest.raises(ValueError, match="api_job"):
        session.create("Job", {"type": "other"})
    with pytest.raises(ValueError, match="key"):
        session.create("Metadata", {"key": "k"})


def test_server_errors_are_rebuilt_from_their_code(session: Session) -> None:
    shot_id = session.create("Shot", {"name": "orphan", "parent_id": "no-such-parent"})["id"]

    with pytest.raises(ReferenceNotFoundError) as caught:
        session.commit()
    assert caught.value.code == "entity.reference_not_found"
    session.rollback()
    assert session.get("Shot", shot_id) is None
    with pytest.raises(UnknownAttributeError) as unknown:
        session.query("select nosuch from Shot").all()
    assert unknown.value.exception_name == "UnknownAttributeError"  # type: ignore[attr-defined]


def test_ensure_creates_then_finds_then_updates(session: Session) -> None:
    project, _, _, _ = make_tree(session)
    data = {"name": "sq_ensure", "parent_id": project["id"]}

    created = session.ensure("Sequence", data)
    found = session.ensure("Sequence", data)
    updated = session.ensure("Sequence", {**data, "description": "d"}, ["name", "parent_id"])

    assert created is found is updated
    assert updated["description"] == "d"
    with pytest.raises(ValueError):
        session.ensure("Sequence", {})
    with pytest.raises(KeyError):
        session.ensure("Sequence", data, ["missing"])


def test_ensure_raises_when_several_entities_match(session: Session) -> None:
    make_tree(session)
    make_tree(session)

    with pytest.raises(MultipleResultsFoundError):
        session.ensure("Sequence", {"name": "sq01"})


def test_encode_strategies_choose_the_attributes(session: Session) -> None:
    _, _, shot, _ = make_tree(session)
    shot["description"] = "local"

    modified = shot.session.encode(shot, "modified_only")
    persisted = shot.session.encode(shot, "persisted_only")
    every = shot.session.encode([shot], "all")
    assert '"description":"local"' in modified and '"name"' not in modified
    assert '"name":"sh010"' in persisted and "local" not in persisted
    assert '"thumbnail_url"' in every
    assert '"name":"sh010"' in session.encode(shot)
    with pytest.raises(ValueError):
        session.encode(shot, "everything")
    session.rollback()


def test_decode_merges_entities_and_datetimes(session: Session) -> None:
    value = session.decode(
        '{"when": {"__type__": "datetime", "value": "2024-03-01T09:30:00"},'
        ' "shot": {"__entity_type__": "Shot", "id": "decoded-1", "name": "x"}}'
    )

    assert value["when"] == dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.timezone.utc)
    assert value["shot"] is session.get("Shot", "decoded-1")


def test_merge_copies_an_entity_from_another_session(session: Session, local_path: Path) -> None:
    _, _, shot, _ = make_tree(session)
    with Session.local(local_path) as other:
        merged = other.merge(shot)
        assert merged is not shot and merged == shot
        with other.auto_populating(False):
            assert merged["name"] == "sh010"


def test_datetimes_round_trip_as_utc(session: Session) -> None:
    _, _, _, task = make_tree(session)
    task["start_date"] = dt.datetime(2024, 3, 1, 9, 30)
    session.commit()
    fetched = session.query(f'select start_date from Task where id is "{task["id"]}"').one()
    assert fetched["start_date"] == dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.timezone.utc)


def test_closed_session_refuses_calls(local_path: Path) -> None:
    session = Session.local(local_path)
    session.close()

    assert session.closed
    with pytest.raises(ConnectionClosedError):
        session.query("Project").all()
    session.close()


def test_server_actions_missing_on_the_server_are_not_supported(session: Session) -> None:
    user = session.query('User where username is "admin"').one()

    with pytest.raises(NotSupportedError, match="reset_remote"):
        user.reset_api_key()
    with pytest.raises(NotSupportedError, match="get_widget_url"):
        session.get_widget_url("info")
    with pytest.raises(NotSupportedError, match="send_user_invite"):
        user.send_invite()


def test_project_schema_lists_statuses_and_types(session: Session) -> None:
    schema = session.query("ProjectSchema").first()

    assert all(status.entity_type == "Status" for status in schema.get_statuses("Task"))
    assert all(kind.entity_type == "Type" for kind in schema.get_types("Task"))
    assert schema.get_statuses("AssetVersion")
    with pytest.raises(ValueError):
        schema.get_statuses("NoSuchType")


def test_user_timer_starts_and_stops_into_a_timelog(session: Session) -> None:
    _, _, _, task = make_tree(session)
    user = session.query('User where username is "admin"').one()
    user.start_timer(task, comment="working", force=True)

    timelog = user.stop_timer()
    assert timelog["context_id"] == task["id"] and timelog["duration"] >= 0
    with pytest.raises(NoResultFoundError):
        user.stop_timer()


def test_event_hub_is_built_from_the_event_hub_module(session: Session) -> None:
    import importlib.util

    if importlib.util.find_spec("shotbase.client.event_hub") is None:
        with pytest.raises(NotSupportedError):
            getattr(session, "event_hub")  # noqa: B009
    else:
        assert type(session.event_hub).__name__ == "EventHub"


def test_reset_forgets_cached_entities(session: Session) -> None:
    _, _, shot, _ = make_tree(session)
    session.reset()

    again = session.get("Shot", shot["id"])
    assert again is not shot and again == shot


def test_one_session_used_from_several_threads(session: Session) -> None:
    project, sequence, _, _ = make_tree(session)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for number in range(10):
                session.create("Shot", {"name": f"t{index}_{number}", "parent": sequence})
                session.query(f'Shot where project_id is "{project["id"]}"').all()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(session.created) == 40
    session.commit()
    assert len(session.query(f'Shot where project_id is "{project["id"]}"').all()) == 41


def test_plugins_register_with_the_session(local_path: Path, tmp_path: Path) -> None:
    (tmp_path / "plugin.py").write_text(
        "def register(session, tag=None):\n    session.plugin_tag = tag\n"
    )
    with Session.local(
        local_path, plugin_paths=[str(tmp_path)], plugin_arguments={"tag": "x", "other": 1}
    ) as opened:
        assert opened.plugin_tag == "x"  # type: ignore[attr-defined]


def test_shotbase_reexports_the_session_and_caches(local_path: Path) -> None:
    assert shotbase.Session is Session
    assert shotbase.FileCache is FileCache
    assert isinstance(Session.local(local_path).query("Project").first(), Entity | None)


def file_cache_for(path: Path):
    def make(session: Session) -> SerialisedCache:
        return SerialisedCache(FileCache(path), encode=session.encode, decode=session.decode)

    return make


def test_persistent_cache_serves_get_without_a_request(local_path: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "entities.sqlite"
    with Session.local(local_path, cache=file_cache_for(cache_file)) as first:
        _, _, shot, _ = make_tree(first)
        first.get("Shot", shot["id"])
        first.query(f'Shot where id is "{shot["id"]}"').one()
    second, recorder = recording_session(local_path, cache=file_cache_for(cache_file))
    with second:
        cached = second.get("Shot", shot["id"])
        assert cached is not None and recorder.sent == []
        with second.auto_populating(False):
            assert cached["name"] == "sh010"


def test_cache_may_be_given_as_an_instance(local_path: Path) -> None:
    memory = MemoryCache()
    with Session.local(local_path, cache=memory) as opened:
        _, _, shot, _ = make_tree(opened)
        opened.query(f'Shot where id is "{shot["id"]}"').one()
        assert any(shot["id"] in key for key in memory.keys())
        opened.delete(shot)
        opened.commit()
        assert not any(shot["id"] in key for key in memory.keys())


def test_changes_outside_operation_recording_are_not_committed(
    session: Session, local_path: Path
) -> None:
    _, _, shot, _ = make_tree(session)
    with session.operation_recording(False):
        shot["description"] = "local only"

    assert shot["description"] == "local only"
    assert session.modified == []
    session.commit()
    with Session.local(local_path) as other:
        assert must_get(other, "Shot", shot["id"])["description"] is None
