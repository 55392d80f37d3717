"""Render errors in the ftrack ``/api`` wire shape: ``{"exception", "content", "error_code"}``."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from shotbase.errors import ShotbaseError

__all__ = ["render_error"]

logger = logging.getLogger(__name__)


def render_error(exc: BaseException, *, strict: bool) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for an error.

    Without strict mode the official client expects status 200 with the error object; with
    ``ftrack-strict-api: true`` the status tells the kind of error. Unexpected exceptions are
    logged with their traceback and answered without one.
    """
    if isinstance(exc, ShotbaseError):
        status = exc.http_status
        body = {"exception": exc.wire_name, "content": _safe(exc.message), "error_code": exc.code}
    else:
        reference = uuid.uuid4().hex[:12]
        logger.error("internal error %s", reference, exc_info=exc)
        status = 500
        body = {
            "exception": "ServerError",
            "content": f"Internal server error; the server log has details under {reference}.",
            "error_code": "server.internal",
        }
    return (status if strict else 200), body


def _safe(message: str) -> str:
    # The official client runs str.format on error text, so braces would break str(error).
    return message.replace("{", "(").replace("}", ")")
