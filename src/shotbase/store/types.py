"""Type aliases shared by the storage code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["Key", "Row"]

# A row read from or written to a table: column name to value (SQLAlchemy's RowMapping fits).
Row = Mapping[Any, Any]
# An entity's primary key values, as strings, in primary key order.
Key = tuple[str, ...]
