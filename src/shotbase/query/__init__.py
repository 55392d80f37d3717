"""The query language: text -> syntax tree -> SQL with bound parameters."""

from __future__ import annotations

from shotbase.query.parser import parse

__all__ = ["parse"]
