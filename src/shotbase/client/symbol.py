"""The "not set" sentinel: an attribute without a value, distinct from ``None``."""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["NOT_SET", "UNSET"]


class _Unset(enum.Enum):
    UNSET = "NOT_SET"

    def __repr__(self) -> str:
        return "NOT_SET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset.UNSET
"""An attribute that has no value locally or remotely (not loaded yet, or never set)."""

NOT_SET: Final = UNSET
"""The ftrack-style name of :data:`UNSET`, for scripts written against the official client."""
