"""Caches: memory, file (shared by processes), layered, proxy, serialised; key makers."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from shotbase.client.cache import (
    FileCache,
    LayeredCache,
    MemoryCache,
    ObjectKeyMaker,
    ProxyCache,
    SerialisedCache,
    StringKeyMaker,
)


def make_memory(tmp_path: Path):
    return MemoryCache()


def make_file(tmp_path: Path):
    return FileCache(tmp_path / "cache.sqlite")


def make_layered(tmp_path: Path):
    return LayeredCache([MemoryCache(), MemoryCache()])


def make_proxy(tmp_path: Path):
    return ProxyCache(MemoryCache())


def make_serialised(tmp_path: Path):
    return SerialisedCache(MemoryCache(), encode=repr, decode=eval)


FACTORIES = [make_memory, make_file, make_layered, make_proxy, make_serialised]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__[5:])
def test_cache_stores_reads_and_removes(factory, tmp_path: Path) -> None:
    cache = factory(tmp_path)
    cache.set("a", {"x": 1})

    assert cache.get("a") == {"x": 1}
    assert cache.keys() == ["a"]
    cache.remove("a")
    with pytest.raises(KeyError):
        cache.get("a")
    with pytest.raises(KeyError):
        cache.remove("a")


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__[5:])
def test_cache_clear_removes_every_key(factory, tmp_path: Path) -> None:
    cache = factory(tmp_path)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.clear()

    assert cache.keys() == []


def test_layered_cache_fills_upper_layers_on_a_lower_hit() -> None:
    upper, lower = MemoryCache(), MemoryCache()
    lower.set("k", "v")
    layered = LayeredCache([upper, lower])

    assert layered.get("k") == "v"
    assert upper.get("k") == "v"


def test_serialised_cache_stores_the_encoded_form() -> None:
    inner = MemoryCache()
    cache = SerialisedCache(inner, encode=lambda v: f"<{v}>", decode=lambda v: v[1:-1])
    cache.set("k", "v")

    assert inner.get("k") == "<v>"
    assert cache.get("k") == "v"


def _write_many(path: str, prefix: str) -> None:
    cache = FileCache(path)
    for index in range(50):
        cache.set(f"{prefix}{index}", index)
    cache.close()


def test_file_cache_is_shared_safely_by_several_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, p)) for p in ("a", "b", "c")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert len(FileCache(path).keys()) == 150


def test_file_cache_persists_across_instances(tmp_path: Path) -> None:
    FileCache(tmp_path / "c.sqlite").set("k", [1, 2])

    assert FileCache(tmp_path / "c.sqlite").get("k") == [1, 2]


def test_key_makers_make_distinct_keys() -> None:
    assert StringKeyMaker().key("Shot", "1") != StringKeyMaker().key("Shot1")
    assert ObjectKeyMaker().key("Shot", ("1", "2")) == '["Shot",["1","2"]]'
