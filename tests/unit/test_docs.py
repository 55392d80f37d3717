"""The generated documentation pages are current."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["settings.md", "errors.md"])
def test_generated_page_is_current(page: str) -> None:
    generator = load_generator()
    expected = generator.PAGES[page]()
    assert (ROOT / "docs" / page).read_text() == expected, (
        f"docs/{page} is stale: run .venv/bin/python scripts/gen_docs.py"
    )
