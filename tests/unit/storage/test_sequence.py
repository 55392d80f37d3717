"""File sequence expressions: parsing, formatting and matching."""

from __future__ import annotations

import pytest

from shotbase.storage.sequence import FileSequence, format_ranges, parse_ranges


def test_parse_reads_head_padding_tail_and_ranges() -> None:
    sequence = FileSequence.parse("/r/f.%04d.exr [1-5, 7, 10-20]")

    assert (sequence.head, sequence.padding, sequence.tail) == ("/r/f.", 4, ".exr")
    assert sequence.indexes == (1, 2, 3, 4, 5, 7, *range(10, 21))


def test_format_round_trips_the_reference_expression() -> None:
    text = "/r/f.%04d.exr [1-5, 7, 10-20]"

    assert FileSequence.parse(text).format() == text


def test_parse_without_ranges_gives_a_pattern_only() -> None:
    sequence = FileSequence.parse("plate.%d.dpx")

    assert sequence.padding == 0
    assert sequence.indexes == ()
    assert sequence.pattern == "plate.%d.dpx"


def test_paths_pad_each_member() -> None:
    sequence = FileSequence.parse("/r/f.%04d.exr [9-10]")

    assert list(sequence.paths()) == [(9, "/r/f.0009.exr"), (10, "/r/f.0010.exr")]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("f.%04d.exr", "f.0042.exr", 42),
        ("f.%04d.exr", "f.12345.exr", 12345),
        ("f.%04d.exr", "f.042.exr", None),
        ("f.%d.exr", "f.42.exr", 42),
        ("f.%d.exr", "f.042.exr", None),
        ("f.%04d.exr", "g.0042.exr", None),
        ("f.%04d.exr", "f.00x2.exr", None),
        ("f.%04d.exr", "f..exr", None),
    ],
    ids=[
        "padded",
        "wider",
        "narrower",
        "unpadded",
        "unpadded-zero",
        "other-head",
        "not-digits",
        "empty",
    ],
)
def test_match_returns_the_member_index(pattern: str, path: str, expected: int | None) -> None:
    assert FileSequence.parse(pattern).match(path) == expected


@pytest.mark.parametrize(
    "text",
    ["/r/f.exr", "/r/f.%04d.exr [a-b]", "/r/f.%04d.exr [5-1]"],
    ids=["no-placeholder", "not-numbers", "backwards"],
)
def test_parse_rejects_malformed_expressions(text: str) -> None:
    with pytest.raises(ValueError):
        FileSequence.parse(text)


def test_format_ranges_compacts_runs() -> None:
    assert format_ranges([5, 1, 2, 3, 7, 8]) == "1-3, 5, 7-8"
    assert format_ranges([]) == ""


def test_parse_ranges_ignores_spaces_and_duplicates() -> None:
    assert parse_ranges(" 3 , 1-2, 2") == (1, 2, 3)
