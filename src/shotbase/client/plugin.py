"""Plugin discovery: every ``*.py`` file in the plugin paths that defines ``register``."""

from __future__ import annotations

import importlib.util
import inspect
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["accepted_arguments", "discover"]

logger = logging.getLogger(__name__)


def accepted_arguments(
    function: Callable[..., Any], arguments: Mapping[str, Any]
) -> dict[str, Any]:
    """The part of ``arguments`` that ``function`` accepts (all of it with ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return dict(arguments)
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return dict(arguments)
    names = {
        parameter.name
        for parameter in parameters
        if parameter.kind
        in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return {name: value for name, value in arguments.items() if name in names}


def _load(path: Path) -> ModuleType | None:
    name = f"shotbase_plugin_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - a broken plugin must not stop the session
        logger.warning("failed to load plugin %s", path, exc_info=True)
        return None
    return module


def _plugin_files(paths: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for entry in paths:
        base = Path(entry).expanduser()
        if base.is_file() and base.suffix == ".py":
            found.append(base)
        elif base.is_dir():
            found.extend(sorted(base.rglob("*.py")))
        else:
            logger.debug("plugin path %s does not exist", base)
    return found


def discover(
    paths: Sequence[str], positional: Sequence[Any], keyword: Mapping[str, Any]
) -> list[ModuleType]:
    """Load every plugin under ``paths`` and call its ``register(*positional, **keyword)``.

    Keyword arguments a plugin's ``register`` does not accept are left out (and logged);
    plugins without ``register`` are skipped; failures are logged, never raised.

    Returns:
        The modules whose ``register`` ran.
    """
    registered: list[ModuleType] = []
    for path in _plugin_files(paths):
        module = _load(path)
        register = getattr(module, "register", None) if module is not None else None
        if module is None or not callable(register):
            logger.debug("skipped %s: no register function", path)
            continue
        accepted = accepted_arguments(register, keyword)
        dropped = sorted(set(keyword) - set(accepted))
        if dropped:
            logger.debug("plugin %s does not accept %s; left out", path, ", ".join(dropped))
        try:
            register(*positional, **accepted)
        except Exception:  # noqa: BLE001 - a broken plugin must not stop the session
            logger.warning("plugin %s failed to register", path, exc_info=True)
            continue
        registered.append(module)
    return registered
