"""The ``shotbase`` command: ``serve`` and ``user create|key``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy

from shotbase.errors import ShotbaseError
from shotbase.settings import SETTINGS, Settings

__all__ = ["main"]

logger = logging.getLogger("shotbase")

DATABASE_SETTINGS = ("data", "database")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not hasattr(arguments, "run"):
        parser.print_help()
        return 2
    try:
        settings = Settings.resolve(vars(arguments))
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        return int(arguments.run(settings, arguments))
    except ShotbaseError as exc:
        print(f"shotbase: {exc}", file=sys.stderr)
        return 1
    except sqlalchemy.exc.OperationalError as exc:
        print(f"shotbase: cannot use the database: {exc.orig}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shotbase", description=__doc__)
    commands = parser.add_subparsers(title="commands")
    serve = commands.add_parser("serve", help="Run the server.")
    _add_settings(serve, [s.name for s in SETTINGS])
    serve.set_defaults(run=_serve)
    user = commands.add_parser("user", help="Manage users and API keys.")
    user_commands = user.add_subparsers(title="user commands", required=True)
    create = user_commands.add_parser("create", help="Create a user and print an API key.")
    create.add_argument("name", help="User name.")
    create.add_argument("--admin", action="store_true", help="Give the Administrator role.")
    _add_settings(create, DATABASE_SETTINGS)
    create.set_defaults(run=_user_create)
    key = user_commands.add_parser("key", help="Issue a new API key; print it alone on stdout.")
    key.add_argument("name", help="User name.")
    _add_settings(key, DATABASE_SETTINGS)
    key.set_defaults(run=_user_key)
    return parser


def _add_settings(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for setting in SETTINGS:
        if setting.name in names:
            parser.add_argument(
                setting.flag,
                dest=setting.name,
                type=setting.kind,
                default=None,
                help=f"{setting.help} [{setting.env}; default {setting.default!r}]",
            )


def _websocket_protocol() -> Any:
    """The frame-writing WebSocket protocol, or uvicorn's own if this uvicorn lacks its base."""
    try:
        from shotbase.server.event_protocol import FrameWebSocketProtocol
    except ImportError:
        logger.warning(
            "this uvicorn has no sans-I/O WebSocket protocol; events use plain ASGI sends"
        )
        return "auto"
    return FrameWebSocketProtocol


def _serve(settings: Settings, arguments: Any) -> int:
    import uvicorn

    from shotbase.server.app import create_app
    from shotbase.server.state import ServerState, prepare_database

    state = ServerState.open(settings)
    api_key = prepare_database(state)
    if api_key is not None:
        print("Created the admin user. Its API key is shown once; keep it safe:", flush=True)
        print(f"  user:    admin\n  api key: {api_key}", flush=True)
    print(f"shotbase serving on http://{settings.host}:{settings.port}", flush=True)
    app = create_app(settings, state)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        ws=_websocket_protocol(),
    )
    state.close()
    return 0


def _user_create(settings: Settings, arguments: Any) -> int:
    from shotbase.server.state import ServerState
    from shotbase.store.accounts import create_user, issue_key

    state = ServerState.open(settings)
    try:
        with state.database.transaction(write=True) as connection:
            create_user(state.tables, connection, arguments.name, admin=arguments.admin)
            api_key = issue_key(state.tables, connection, arguments.name)
    finally:
        state.close()
    print(api_key)
    return 0


def _user_key(settings: Settings, arguments: Any) -> int:
    from shotbase.server.state import ServerState
    from shotbase.store.accounts import issue_key

    state = ServerState.open(settings)
    try:
        with state.database.transaction(write=True) as connection:
            api_key = issue_key(state.tables, connection, arguments.name)
    finally:
        state.close()
    print(api_key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
