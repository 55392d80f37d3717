"""File sequences: parse and format ``'{head}{padding}{tail} [{ranges}]'`` expressions.

A file sequence is a set of numbered files sharing a head and a tail, written the way the
official client accepts them in ``create_component``::

    /r/f.%04d.exr [1-5, 7, 10-20]

``%04d`` is the padding (``%d`` for unpadded numbers) and the bracketed ranges list the member
indexes. The bracket part is optional when only the pattern matters (a structure's output).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["FileSequence", "format_ranges", "is_sequence_expression", "parse_ranges"]

DEFAULT_FORMAT = "{head}{padding}{tail} [{ranges}]"
_EXPRESSION = re.compile(
    r"^(?P<head>.*?)%(?P<padding>0\d+)?d(?P<tail>[^%]*?)(?: \[(?P<ranges>.*)\])?$"
)
_RANGE = re.compile(r"^\s*(?P<start>-?\d+)\s*(?:-\s*(?P<end>-?\d+)\s*)?$")


def is_sequence_expression(text: str) -> bool:
    """Return whether ``text`` contains a ``%d`` / ``%0Nd`` frame placeholder."""
    return _EXPRESSION.match(text) is not None


def parse_ranges(text: str) -> tuple[int, ...]:
    """Parse ``"1-5, 7, 10-20"`` into sorted unique indexes.

    Raises:
        ValueError: If a part is not an index or an ``a-b`` range with ``a <= b``.
    """
    indexes: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        found = _RANGE.match(part)
        if found is None:
            raise ValueError(f"expected an index or a range like '1-5', got {part.strip()!r}")
        start = int(found["start"])
        end = int(found["end"]) if found["end"] is not None else start
        if end < start:
            raise ValueError(f"range {part.strip()!r} ends before it starts")
        indexes.update(range(start, end + 1))
    return tuple(sorted(indexes))


def format_ranges(indexes: Iterable[int]) -> str:
    """Format indexes as compact ranges: ``[1, 2, 3, 5]`` becomes ``"1-3, 5"``."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    start = previous = None
    for index in ordered:
        if previous is not None and index == previous + 1:
            previous = index
            continue
        if start is not None:
            parts.append(_format_range(start, previous))
        start = previous = index
    if start is not None:
        parts.append(_format_range(start, previous))
    return ", ".join(parts)


def _format_range(start: int, end: int | None) -> str:
    return str(start) if end is None or end == start else f"{start}-{end}"


@dataclass(frozen=True, slots=True)
class FileSequence:
    """Numbered files sharing a head and a tail.

    Attributes:
        head: Everything before the number, e.g. ``"/r/f."``.
        tail: Everything after the number, e.g. ``".exr"``.
        padding: Zero-padded width of the number; 0 means unpadded.
        indexes: The member indexes, sorted and unique.
    """

    head: str
    tail: str
    padding: int = 0
    indexes: tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FileSequence:
        """Parse ``'{head}{padding}{tail} [{ranges}]'``; the ``[ranges]`` part is optional.

        Raises:
            ValueError: If ``text`` has no ``%d`` / ``%0Nd`` placeholder or bad ranges.
        """
        found = _EXPRESSION.match(text)
        if found is None:
            raise ValueError(f"expected a sequence like '/r/f.%04d.exr [1-5, 7]', got {text!r}")
        padding = int(found["padding"]) if found["padding"] else 0
        ranges = found["ranges"]
        indexes = parse_ranges(ranges) if ranges is not None else ()
        return cls(found["head"], found["tail"], padding, indexes)

    @property
    def padding_expression(self) -> str:
        """The printf placeholder: ``%04d`` for padding 4, ``%d`` when unpadded."""
        return f"%0{self.padding}d" if self.padding else "%d"

    @property
    def pattern(self) -> str:
        """The path pattern without ranges, e.g. ``/r/f.%04d.exr``."""
        return f"{self.head}{self.padding_expression}{self.tail}"

    def format(self, template: str = DEFAULT_FORMAT) -> str:
        """Format with ``{head}``, ``{padding}``, ``{tail}`` and ``{ranges}`` placeholders."""
        return template.format(
            head=self.head,
            padding=self.padding_expression,
            tail=self.tail,
            ranges=format_ranges(self.indexes),
        )

    def path(self, index: int) -> str:
        """Return the path of member ``index``."""
        return f"{self.head}{index:0{self.padding}d}{self.tail}"

    def paths(self) -> Iterator[tuple[int, str]]:
        """Yield ``(index, path)`` for every member."""
        for index in self.indexes:
            yield index, self.path(index)

    def match(self, path: str) -> int | None:
        """Return the index if ``path`` is a member of this pattern, else None.

        A padded pattern only matches numbers written at exactly that width (or wider, when
        the number needs more digits), as the official client's sequences do.
        """
        if len(path) <= len(self.head) + len(self.tail):
            return None
        if not (path.startswith(self.head) and path.endswith(self.tail)):
            return None
        digits = path[len(self.head) : len(path) - len(self.tail)]
        if not digits.isdigit():
            return None
        if self.padding:
            if len(digits) < self.padding or (len(digits) > self.padding and digits[0] == "0"):
                return None
        elif len(digits) > 1 and digits[0] == "0":
            return None
        return int(digits)

    def __str__(self) -> str:
        return self.format()
