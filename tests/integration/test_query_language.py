"""Every operator and form of the query language, on a small known studio, over real HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.integration.conftest import (
    STRICT,
    create_op,
    new_id,
    project_data,
    query_all,
    query_op,
    ref,
    run,
    unique,
    update_op,
)


class Studio:
    """Names and ids of the data set built once per module."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.tag = unique("q")
        project = project_data(server)
        self.project_id, self.project_name = project["id"], project["full_name"]
        self.ids: dict[str, str] = {}
        statuses = {row["name"]: row["id"] for row in query_all(server, "select name from Status")}
        number = query_all(server, 'select id from CustomAttributeType where name is "number"')[0]
        shot_type = "bad911de-3bd6-47b9-8b46-3476e237cb36"
        operations: list[dict[str, Any]] = [create_op("Project", project)]
        self.fstart_id = new_id()
        operations.append(
            create_op(
                "CustomAttributeConfiguration",
                {
                    "id": self.fstart_id,
                    "key": f"fstart_{self.tag}",
                    "label": "Frame start",
                    "entity_type": "task",
                    "object_type_id": shot_type,
                    "type_id": number["id"],
                    "default": 1001,
                    "config": "{}",
                    "core": False,
                    "project_id": self.project_id,
                },
            )
        )
        for sequence in ("sq010", "sq020"):
            operations.append(self._create("Sequence", sequence, self.project_id, "Project"))
            for shot in ("sh010", "sh020"):
                shot_name = f"{sequence}_{shot}"
                operations.append(self._create("Shot", shot_name, self.ids[sequence], "Sequence"))
                for task, bid in (("anim", 3600.0), ("comp", 7200.0)):
                    task_name = f"{shot_name}_{task}"
                    operations.append(
                        self._create("Task", task_name, self.ids[shot_name], "Shot", bid=bid)
                    )
        run(server, *operations)
        run(
            server,
            update_op(
                "Task",
                self.ids["sq010_sh010_comp"],
                {"status": ref("Status", statuses["Approved"])},
            ),
            update_op(
                "Task", self.ids["sq020_sh020_anim"], {"status": ref("Status", statuses["On hold"])}
            ),
            create_op(
                "Metadata",
                {
                    "parent_id": self.ids["sq010_sh020"],
                    "parent_type": "Shot",
                    "key": "lens",
                    "value": "35mm",
                },
            ),
            {
                "action": "update",
                "entity_type": "ContextCustomAttributeValue",
                "entity_key": [self.fstart_id, self.ids["sq020_sh010"]],
                "entity_data": {"value": 1050},
            },
            create_op(
                "Timelog",
                {
                    "context_id": self.ids["sq010_sh010_anim"],
                    "start": "2024-03-01T09:00:00",
                    "duration": 1800.0,
                    "comment": "",
                },
            ),
        )

    def _create(
        self, kind: str, name: str, parent: str, parent_kind: str, **extra: Any
    ) -> dict[str, Any]:
        entity_id = new_id()
        self.ids[name] = entity_id
        return create_op(
            kind, {"id": entity_id, "name": name, "parent": ref(parent_kind, parent), **extra}
        )

    def names(self, expression: str) -> list[str]:
        """Names of what an expression finds inside this studio's project, sorted."""
        rows = query_all(self.server, expression)
        return sorted(row["name"] for row in rows)


@pytest.fixture(scope="module")
def studio(server: ServerProcess) -> Studio:
    return Studio(server)


IN_PROJECT = 'project_id is "{project}"'

# (id, filter on Task within the project, expected task names)
TASK_FILTERS = [
    ("is", 'name is "sq010_sh010_anim"', ["sq010_sh010_anim"]),
    ("equals-sign", 'name="sq010_sh010_anim"', ["sq010_sh010_anim"]),
    (
        "is_not",
        'name is_not "sq010_sh010_anim" and parent.name is "sq010_sh010"',
        ["sq010_sh010_comp"],
    ),
    (
        "not-equals-sign",
        'name != "sq010_sh010_anim" and parent.name = sq010_sh010',
        ["sq010_sh010_comp"],
    ),
    ("greater", "bid > 3600 and parent.name is sq010_sh010", ["sq010_sh010_comp"]),
    ("after", "bid after 3600 and parent.name is sq010_sh010", ["sq010_sh010_comp"]),
    ("less", "bid < 7200 and parent.name is sq010_sh010", ["sq010_sh010_anim"]),
    (
        "greater-or-equal",
        "bid >= 3600 and parent.name is sq010_sh010",
        ["sq010_sh010_anim", "sq010_sh010_comp"],
    ),
    ("less-or-equal", "bid <= 3600 and parent.name is sq010_sh010", ["sq010_sh010_anim"]),
    (
        "in-list",
        'name in ("sq010_sh010_anim", "sq020_sh020_comp")',
        ["sq010_sh010_anim", "sq020_sh020_comp"],
    ),
    (
        "in-bare-list",
        "name in (sq010_sh010_anim,sq020_sh020_comp)",
        ["sq010_sh010_anim", "sq020_sh020_comp"],
    ),
    (
        "not_in",
        'parent.name is "sq010_sh010" and name not_in ("sq010_sh010_anim")',
        ["sq010_sh010_comp"],
    ),
    ("like", 'name like "%sh020_comp"', ["sq010_sh020_comp", "sq020_sh020_comp"]),
    (
        "like-is-case-insensitive",
        'name like "SQ010_SH010_%"',
        ["sq010_sh010_anim", "sq010_sh010_comp"],
    ),
    ("not_like", 'parent.name is "sq010_sh010" and name not_like "%anim"', ["sq010_sh010_comp"]),
    ("reference-path", 'status.name is "Approved"', ["sq010_sh010_comp"]),
    ("two-step-path", "status.state.short is DONE", ["sq010_sh010_comp"]),
    ("has", 'status has (name is "On hold")', ["sq020_sh020_anim"]),
    (
        "and-or-precedence",
        'name is "sq010_sh010_anim" or name is "sq020_sh020_comp" and bid > 99999',
        ["sq010_sh010_anim"],
    ),
    (
        "parentheses",
        '(name is "sq010_sh010_anim" or name is "sq020_sh020_comp") and bid > 5000',
        ["sq020_sh020_comp"],
    ),
    (
        "not",
        'not bid > 3600 and parent.parent.name is "sq020"',
        ["sq020_sh010_anim", "sq020_sh020_anim"],
    ),
    ("collection-any", "timelogs any (duration > 1000)", ["sq010_sh010_anim"]),
    ("collection-any-empty", "timelogs any ()", ["sq010_sh010_anim"]),
    ("not-any", 'not timelogs any () and parent.name is "sq010_sh010"', ["sq010_sh010_comp"]),
    ("collection-path", "timelogs.duration > 1000", ["sq010_sh010_anim"]),
    (
        "ancestors-any",
        'ancestors any (name is "sq020_sh010")',
        ["sq020_sh010_anim", "sq020_sh010_comp"],
    ),
    (
        "ancestors-two-levels",
        'ancestors any (name is "sq020") and name like "%anim"',
        ["sq020_sh010_anim", "sq020_sh020_anim"],
    ),
    (
        "subquery",
        'parent_id in (select id from Shot where name is "sq020_sh020")',
        ["sq020_sh020_anim", "sq020_sh020_comp"],
    ),
    ("is-none", "description is None and name is sq010_sh010_anim", ["sq010_sh010_anim"]),
    ("is-not-none", "description is_not None", []),
    ("keyword-case", 'name IS "sq010_sh010_anim" AnD NOT bid > 99999', ["sq010_sh010_anim"]),
]


@pytest.mark.parametrize(
    "condition, expected", [c[1:] for c in TASK_FILTERS], ids=[c[0] for c in TASK_FILTERS]
)
def test_task_filter_finds_exactly_the_expected_tasks(
    studio: Studio, condition: str, expected: list[str]
) -> None:
    scope = IN_PROJECT.format(project=studio.project_id)
    assert studio.names(f"select name from Task where {scope} and ({condition})") == expected


def test_polymorphic_query_returns_concrete_types(studio: Studio) -> None:
    rows = query_all(
        studio.server, f'select name from TypedContext where project_id is "{studio.project_id}"'
    )
    kinds = {row["__entity_type__"] for row in rows}
    assert kinds == {"Sequence", "Shot", "Task"}
    assert len(rows) == 2 + 4 + 8


def test_subtype_attribute_filters_when_the_subtype_is_named(studio: Studio) -> None:
    found = studio.names(
        f'select name from Context where name is "sq010" and parent_id is "{studio.project_id}"'
    )
    assert found == ["sq010"]


def test_metadata_any_matches_key_and_value_together(studio: Studio) -> None:
    scope = IN_PROJECT.format(project=studio.project_id)
    assert studio.names(
        f'select name from Shot where {scope} and metadata any (key is "lens" and value is "35mm")'
    ) == ["sq010_sh020"]
    assert (
        studio.names(
            f"select name from Shot where {scope} and "
            'metadata any (key is "lens" and value is "50mm")'
        )
        == []
    )


def test_custom_attribute_filter_compares_numbers(studio: Studio) -> None:
    scope = IN_PROJECT.format(project=studio.project_id)
    key = f"fstart_{studio.tag}"
    found = studio.names(
        f"select name from Shot where {scope} and "
        f'custom_attributes any (key is "{key}" and value > 1020)'
    )
    assert found == ["sq020_sh010"]


def test_custom_attributes_projection_is_dense_with_defaults(studio: Studio) -> None:
    rows = query_all(
        studio.server,
        f'select custom_attributes from Shot where project_id is "{studio.project_id}"',
    )
    values = {}
    for row in rows:
        mine = [item for item in row["custom_attributes"] if item["key"] == f"fstart_{studio.tag}"]
        values[row["id"]] = mine[0]["value"]
        assert mine[0]["__entity_type__"] == "ContextCustomAttributeValue"
    assert values[studio.ids["sq020_sh010"]] == 1050
    assert values[studio.ids["sq010_sh010"]] == 1001


def test_order_by_several_keys_and_directions(studio: Studio) -> None:
    rows = query_all(
        studio.server,
        f'select name from Task where project_id is "{studio.project_id}" '
        "order by parent.name desc, bid asc",
    )
    names = [row["name"] for row in rows]
    assert names[:2] == ["sq020_sh020_anim", "sq020_sh020_comp"]
    assert names[-2:] == ["sq010_sh010_anim", "sq010_sh010_comp"]


def test_offset_and_limit_in_either_order_page_the_same_rows(studio: Studio) -> None:
    base = f'select name from Task where project_id is "{studio.project_id}" order by name'
    first = run(studio.server, query_op(f"{base} offset 2 limit 3"))[0]
    second = run(studio.server, query_op(f"{base} limit 3 offset 2"))[0]
    assert [r["name"] for r in first["data"]] == [r["name"] for r in second["data"]]
    assert first["metadata"]["next"]["offset"] == 5


def test_nested_projection_through_reference_and_collection(studio: Studio) -> None:
    rows = query_all(
        studio.server,
        f"select name, parent.name, children.name, children.status.name from Shot "
        f'where id is "{studio.ids["sq010_sh010"]}"',
    )
    assert rows[0]["parent"]["name"] == "sq010"
    children = {child["name"]: child for child in rows[0]["children"]}
    assert set(children) == {"sq010_sh010_anim", "sq010_sh010_comp"}
    assert children["sq010_sh010_comp"]["status"]["name"] == "Approved"


def test_link_and_ancestors_projections(studio: Studio) -> None:
    row = query_all(
        studio.server,
        f'select link, ancestors.name from Task where id is "{studio.ids["sq020_sh010_comp"]}"',
    )[0]
    assert [step["name"] for step in row["link"]] == [
        studio.project_name.lower(),
        "sq020",
        "sq020_sh010",
        "sq020_sh010_comp",
    ] or [step["type"] for step in row["link"]][0] == "Project"
    assert [item["name"] for item in row["ancestors"]] == ["sq020", "sq020_sh010"]


def test_computed_time_logged(studio: Studio) -> None:
    row = query_all(
        studio.server,
        "select time_logged, bid_time_logged_difference from Task "
        f'where id is "{studio.ids["sq010_sh010_anim"]}"',
    )[0]
    assert row["time_logged"] == 1800.0
    assert row["bid_time_logged_difference"] == 1800.0


def test_aggregate_counts_per_group(studio: Studio) -> None:
    result = run(
        studio.server,
        query_op(
            "select count(id), sum(bid) from Task "
            f'where project_id is "{studio.project_id}" group by parent_id'
        ),
    )[0]
    assert len(result["data"]) == 4
    assert all(row["count_id"] == 2 and row["sum_bid"] == 10800.0 for row in result["data"])
    assert {row["parent_id"] for row in result["data"]} == {
        studio.ids[name] for name in ("sq010_sh010", "sq010_sh020", "sq020_sh010", "sq020_sh020")
    }


def test_aggregate_of_an_ungrouped_attribute_is_refused(studio: Studio) -> None:
    response = studio.server.call(
        [query_op("select name, count(id) from Task group by parent_id")], **STRICT
    )
    assert response.status_code == 400
    assert "must be aggregated or listed in 'group by'" in response.json()["content"]


def test_datetime_literals_compare_as_datetimes(studio: Studio) -> None:
    scope = f'context_id is "{studio.ids["sq010_sh010_anim"]}"'
    assert (
        len(
            query_all(
                studio.server, f'select id from Timelog where {scope} and start after "2024-02-29"'
            )
        )
        == 1
    )
    assert (
        len(
            query_all(
                studio.server,
                f'select id from Timelog where {scope} and start before "2024-03-01T08:59:59Z"',
            )
        )
        == 0
    )
    assert (
        len(
            query_all(
                studio.server,
                f'select id from Timelog where {scope} and start is "2024-03-01T10:00:00+01:00"',
            )
        )
        == 1
    )


# (id, filter on Shot within the project, expected shot names): sq020_sh010 stores 1050, the
# other shots store nothing and read the configuration's default, 1001.
CUSTOM_ATTRIBUTE_FILTERS = [
    ("default-matches", "value is 1001", ["sq010_sh010", "sq010_sh020", "sq020_sh020"]),
    ("stored-matches", "value is 1050", ["sq020_sh010"]),
    ("default-below", "value < 1020", ["sq010_sh010", "sq010_sh020", "sq020_sh020"]),
    (
        "default-in-list",
        "value in (1001, 1050)",
        ["sq010_sh010", "sq010_sh020", "sq020_sh010", "sq020_sh020"],
    ),
    ("default-as-text", 'value like "100%"', ["sq010_sh010", "sq010_sh020", "sq020_sh020"]),
    ("neither", "value is 999", []),
]


@pytest.mark.parametrize(
    "condition, expected",
    [c[1:] for c in CUSTOM_ATTRIBUTE_FILTERS],
    ids=[c[0] for c in CUSTOM_ATTRIBUTE_FILTERS],
)
def test_custom_attribute_filter_sees_default_values(
    studio: Studio, condition: str, expected: list[str]
) -> None:
    scope = IN_PROJECT.format(project=studio.project_id)
    key = f"fstart_{studio.tag}"
    found = studio.names(
        f'select name from Shot where {scope} and custom_attributes any (key is "{key}" and '
        f"{condition})"
    )
    assert found == expected


def test_negated_custom_attribute_filter_leaves_entities_with_the_default_out(
    studio: Studio,
) -> None:
    scope = IN_PROJECT.format(project=studio.project_id)
    key = f"fstart_{studio.tag}"
    found = studio.names(
        f"select name from Shot where {scope} and "
        f'not custom_attributes any (key is "{key}" and value is 1001)'
    )
    assert found == ["sq020_sh010"]


def test_custom_attribute_default_counts_only_where_the_configuration_applies(
    studio: Studio,
) -> None:
    # The configuration is for Shots: Tasks and Sequences have no fstart at all.
    scope = IN_PROJECT.format(project=studio.project_id)
    key = f"fstart_{studio.tag}"
    found = studio.names(
        f"select name from TypedContext where {scope} and "
        f'custom_attributes any (key is "{key}" and value is 1001)'
    )
    assert found == ["sq010_sh010", "sq010_sh020", "sq020_sh020"]


def test_filter_on_computed_time_logged(studio: Studio) -> None:
    scope = IN_PROJECT.format(project=studio.project_id)
    assert studio.names(f"select name from Task where {scope} and time_logged > 0") == [
        "sq010_sh010_anim"
    ]
    assert studio.names(
        f"select name from Task where {scope} and bid_time_logged_difference is 1800"
    ) == ["sq010_sh010_anim"]
    assert studio.names(f"select name from Shot where {scope} and children.time_logged > 0") == [
        "sq010_sh010"
    ]


def test_order_by_computed_time_logged(studio: Studio) -> None:
    rows = query_all(
        studio.server,
        f'select name, time_logged from Task where project_id is "{studio.project_id}" '
        "order by time_logged desc, bid_time_logged_difference, name",
    )
    assert [row["name"] for row in rows][:3] == [
        "sq010_sh010_anim",
        "sq010_sh020_anim",
        "sq020_sh010_anim",
    ]
    assert rows[0]["time_logged"] == 1800.0


@pytest.mark.parametrize(
    "expression, attribute",
    [
        ('select name from Task where thumbnail_url is "x"', "Task.thumbnail_url"),
        ('select name from Task where link like "%sq010%"', "Task.link"),
        ("select name from Task order by link", "Task.link"),
        (
            "select name from Shot where children.thumbnail_url is None",
            "Context.thumbnail_url",
        ),
    ],
    ids=["thumbnail-filter", "link-filter", "link-order", "nested-thumbnail-filter"],
)
def test_filter_on_display_only_computed_value_names_it(
    studio: Studio, expression: str, attribute: str
) -> None:
    response = studio.server.call([query_op(expression)], **STRICT)
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "query.invalid"
    assert attribute in body["content"]
    assert "computed" in body["content"]


def datetime_value(moment: dt.datetime) -> dict[str, str]:
    return {"__type__": "datetime", "value": moment.isoformat()}


class Reviews:
    """Review sessions of the studio's project: ``open`` shows two versions, the first without
    a thumbnail; ``closed`` ended yesterday and shows a version without one; ``empty`` shows
    nothing."""

    def __init__(self, studio: Studio) -> None:
        self.server = studio.server
        self.scope = IN_PROJECT.format(project=studio.project_id)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        asset_type_id = query_all(self.server, "select id from AssetType")[0]["id"]
        status_id = query_all(self.server, "select id from Status")[0]["id"]
        asset_id, self.thumbnail_id = new_id(), new_id()
        self.ids = {name: new_id() for name in ("open", "closed", "empty")}
        versions = {name: new_id() for name in ("bare", "shown")}
        ends = {"open": now + dt.timedelta(days=1), "closed": now - dt.timedelta(days=1)}
        ends["empty"] = now + dt.timedelta(days=2)
        operations = [
            create_op(
                "Asset",
                {
                    "id": asset_id,
                    "name": "review",
                    "parent": ref("Project", studio.project_id),
                    "type_id": asset_type_id,
                },
            ),
            create_op("FileComponent", {"id": self.thumbnail_id, "name": "thumbnail"}),
            create_op(
                "AssetVersion",
                {"id": versions["bare"], "asset_id": asset_id, "status_id": status_id},
            ),
            create_op(
                "AssetVersion",
                {
                    "id": versions["shown"],
                    "asset_id": asset_id,
                    "status_id": status_id,
                    "thumbnail_id": self.thumbnail_id,
                },
            ),
        ]
        for name, session_id in self.ids.items():
            data = {
                "id": session_id,
                "name": f"{name}_{studio.tag}",
                "project_id": studio.project_id,
                "start_date": datetime_value(now - dt.timedelta(days=7)),
                "end_date": datetime_value(ends[name]),
            }
            operations.append(create_op("ReviewSession", data))
        shown = (("open", "bare", 0), ("open", "shown", 1), ("closed", "bare", 0))
        for session, version, order in shown:
            data = {
                "review_session_id": self.ids[session],
                "version_id": versions[version],
                "sort_order": order,
                "name": version,
                "version": version,
            }
            operations.append(create_op("ReviewSessionObject", data))
        run(self.server, *operations)

    def by_name(self, expression: str) -> dict[str, dict[str, Any]]:
        """The project's review sessions an expression finds, by their key in ``ids``."""
        return {self.name(row): row for row in query_all(self.server, expression)}

    def name(self, row: dict[str, Any]) -> str:
        """The key in ``ids`` of a review session row."""
        return next(name for name, session_id in self.ids.items() if session_id == row["id"])


@pytest.fixture(scope="module")
def reviews(studio: Studio) -> Reviews:
    return Reviews(studio)


def test_review_session_is_open_until_its_end_date(reviews: Reviews) -> None:
    rows = reviews.by_name(f"select name, is_open from ReviewSession where {reviews.scope}")
    assert {name: row["is_open"] for name, row in rows.items()} == {
        "open": True,
        "closed": False,
        "empty": True,
    }


@pytest.mark.parametrize(
    "condition, expected",
    [("is_open is true", {"open", "empty"}), ("is_open is false", {"closed"})],
    ids=["is-true", "is-false"],
)
def test_filter_on_review_session_is_open(
    reviews: Reviews, condition: str, expected: set[str]
) -> None:
    found = reviews.by_name(f"select name from ReviewSession where {reviews.scope} and {condition}")
    assert set(found) == expected


def test_order_by_review_session_is_open(reviews: Reviews) -> None:
    # Closed (false) sorts before open (true) on both databases.
    rows = query_all(
        reviews.server,
        f"select name from ReviewSession where {reviews.scope} order by is_open, end_date desc",
    )
    assert [reviews.name(row) for row in rows] == ["closed", "empty", "open"]


def test_review_session_thumbnail_is_the_first_object_with_one(reviews: Reviews) -> None:
    rows = reviews.by_name(
        "select name, thumbnail_id, thumbnail.name, thumbnail_url from ReviewSession "
        f"where {reviews.scope}"
    )
    shown = rows["open"]
    assert shown["thumbnail_id"] == reviews.thumbnail_id
    assert shown["thumbnail"]["id"] == reviews.thumbnail_id
    assert shown["thumbnail_url"]["url"].endswith(f"/component/thumbnail?id={reviews.thumbnail_id}")
    for name in ("closed", "empty"):
        assert (rows[name]["thumbnail_id"], rows[name]["thumbnail"]) == (None, None)
        assert rows[name]["thumbnail_url"]["url"].endswith("/img/thumbnail2.png")


def test_filter_on_review_session_thumbnail(reviews: Reviews) -> None:
    scope = reviews.scope
    assert set(
        reviews.by_name(f"select name from ReviewSession where {scope} and thumbnail_id is None")
    ) == {"closed", "empty"}
    assert set(
        reviews.by_name(
            f'select name from ReviewSession where {scope} and thumbnail.name is "thumbnail"'
        )
    ) == {"open"}


@pytest.mark.parametrize(
    "data",
    [
        {"thumbnail_id": "0badc0de-0000-4000-8000-000000000000"},
        {"thumbnail": ref("FileComponent", "0badc0de-0000-4000-8000-000000000000")},
        {"thumbnail": None},
        {"is_open": False},
    ],
    ids=["thumbnail-id", "thumbnail", "thumbnail-none", "is-open"],
)
def test_review_session_computed_values_cannot_be_written(
    reviews: Reviews, data: dict[str, Any]
) -> None:
    name = next(iter(data))
    for operation in (
        update_op("ReviewSession", reviews.ids["open"], data),
        create_op("ReviewSession", {"name": "x", **data}),
    ):
        response = reviews.server.call([operation], **STRICT)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["exception"] == "ValidationError"
        assert f"ReviewSession.{name} is computed" in body["content"]


@pytest.fixture(scope="module")
def lead_link(studio: Studio) -> str:
    """A ``lead`` link from the task sq010_sh010_anim to the admin user; returns the key."""
    key = f"lead_{studio.tag}"
    configuration_id = new_id()
    admin = query_all(studio.server, 'select id from User where username is "admin"')[0]["id"]
    run(
        studio.server,
        create_op(
            "CustomAttributeLinkConfiguration",
            {
                "id": configuration_id,
                "key": key,
                "label": "Lead",
                "entity_type": "task",
                "entity_type_to": "user",
                "config": "{}",
                "core": False,
            },
        ),
        create_op(
            "CustomAttributeLink",
            {
                "configuration_id": configuration_id,
                "from_id": studio.ids["sq010_sh010_anim"],
                "to_id": admin,
            },
        ),
    )
    return key


def test_custom_attribute_links_filter_through_the_linked_user(
    studio: Studio, lead_link: str
) -> None:
    scope = IN_PROJECT.format(project=studio.project_id)
    links = f'custom_attribute_links any (configuration.key is "{lead_link}" and user.username'
    assert studio.names(f'select name from Task where {scope} and {links} is "admin")') == [
        "sq010_sh010_anim"
    ]
    assert studio.names(f'select name from Task where {scope} and {links} is "nobody")') == []


def test_custom_attribute_links_from_filter_finds_the_other_end(
    studio: Studio, lead_link: str
) -> None:
    rows = query_all(
        studio.server,
        "select username from User where custom_attribute_links_from any "
        f'(configuration.key is "{lead_link}" and context.name is "sq010_sh010_anim")',
    )
    assert [row["username"] for row in rows] == ["admin"]


def test_custom_attribute_links_cannot_be_selected(studio: Studio, lead_link: str) -> None:
    response = studio.server.call(
        [query_op("select custom_attribute_links from Task limit 1")], **STRICT
    )
    assert response.status_code == 400
    assert "only be used in a filter" in response.json()["content"]
