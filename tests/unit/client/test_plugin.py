"""Plugin discovery and argument reduction."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from shotbase.client.plugin import accepted_arguments, discover

PLUGIN = """
calls = []

def register(session, colour=None):
    calls.append((session, colour))
"""


def test_register_receives_only_the_arguments_it_accepts(tmp_path: Path, caplog) -> None:
    (tmp_path / "plugin.py").write_text(PLUGIN)
    caplog.set_level(logging.DEBUG, logger="shotbase.client.plugin")

    modules = discover([str(tmp_path)], ["S"], {"colour": "red", "size": 3})

    assert [module.calls for module in modules] == [[("S", "red")]]
    assert "does not accept size" in caplog.text


def test_files_without_register_and_broken_plugins_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("VALUE = 1\n")
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "failing.py").write_text("def register(session):\n    raise ValueError()\n")

    assert discover([str(tmp_path), str(tmp_path / "missing")], ["S"], {}) == []


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (lambda session, a: None, {"a": 1}),
        (lambda session, **kwargs: None, {"a": 1, "b": 2}),
        (lambda session: None, {}),
    ],
    ids=["named", "var-keyword", "none"],
)
def test_accepted_arguments(function, expected) -> None:
    assert accepted_arguments(function, {"a": 1, "b": 2}) == expected


CUSTOM_CLASSES = """
def construct(event):
    base = event["data"]["base"]
    if event["data"]["schema"]["id"] == "Shot":
        label = lambda self: "shot " + self["name"]
        return type("Shot", (base,), {"__slots__": (), "label": label})
    if event["data"]["schema"]["id"] == "Sequence":
        return object  # not a subclass of base: ignored with a warning
    return None

def register(session):
    session.event_hub.subscribe("topic=ftrack.api.session.construct-entity-type", construct)
"""


def test_plugins_customise_entity_classes(tmp_path: Path, caplog) -> None:
    from shotbase.client import Session

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "classes.py").write_text(CUSTOM_CLASSES)
    caplog.set_level(logging.WARNING, logger="shotbase.client.session")

    with Session.local(tmp_path / "server", plugin_paths=[str(plugins)]) as session:
        shot: Any = session.create("Shot", {"name": "sh010"})
        sequence = session.create("Sequence", {"name": "sq01"})

        assert shot.label() == "shot sh010"
        assert type(sequence) is session.types["Sequence"] and not hasattr(sequence, "label")
        assert "must subclass" in caplog.text
