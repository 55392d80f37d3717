"""Events shared by the server and the client: the event value, expressions and packets."""

from __future__ import annotations

from shotbase.events.event import Event, new_id
from shotbase.events.expression import Expression, parse_expression

__all__ = ["Event", "Expression", "new_id", "parse_expression"]
