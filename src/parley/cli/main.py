"""``parley``: run the server, manage users, list models."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import logging.config
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from parley import __version__
from parley.config import Settings
from parley.errors import ParleyError

if TYPE_CHECKING:
    from parley.core.auth.service import AuthService
    from parley.core.store.base import Stores

log = logging.getLogger("parley.cli")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(
            data_dir=args.data_dir,
            models_file=getattr(args, "models", None),
            store=getattr(args, "store", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            forwarded_allow_ips=getattr(args, "forwarded_allow_ips", None),
        )
        result: int = args.run(args, settings)
        return result
    except ParleyError as error:
        print(f"parley: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", description="Parley: a private AI assistant.")
    parser.add_argument("--version", action="version", version=f"parley {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="where the database and secret live (PARLEY_DATA_DIR, ./data)")
    common.add_argument("--store", help="store backend (PARLEY_STORE, default sqlite)")
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", parents=[common], help="run the server")
    serve.add_argument("--host", help="address to listen on (PARLEY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (PARLEY_PORT, default 8000)")
    serve.add_argument("--models", type=Path, help="a models file, TOML (PARLEY_MODELS_FILE)")
    serve.add_argument(
        "--forwarded-allow-ips",
        type=_comma_list,
        help="comma-separated addresses of reverse proxies whose X-Forwarded-For is believed"
        " (PARLEY_FORWARDED_ALLOW_IPS, default 127.0.0.1,::1)",
    )
    serve.set_defaults(run=_serve)

    models = commands.add_parser("models", parents=[common], help="list the models this server offers")
    models.add_argument("--models", type=Path, help="a models file, TOML (PARLEY_MODELS_FILE)")
    models.set_defaults(run=_run_async(_models))

    users = commands.add_parser("users", help="manage accounts").add_subparsers(title="users commands")
    add = users.add_parser("add", parents=[common], help="create an account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make the account an administrator")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=_run_async(_users_add))
    users.add_parser("list", parents=[common], help="list accounts").set_defaults(run=_run_async(_users_list))
    passwd = users.add_parser("passwd", parents=[common], help="set a new password (signs the user out everywhere)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd.set_defaults(run=_run_async(_users_passwd))
    for name, disabled, text in (
        ("disable", True, "block an account"),
        ("enable", False, "unblock an account"),
    ):
        sub = users.add_parser(name, parents=[common], help=text)
        sub.add_argument("name")
        sub.set_defaults(run=_run_async(_users_set_disabled(disabled)))
    remove = users.add_parser("remove", parents=[common], help="delete an account and its conversations")
    remove.add_argument("name")
    remove.set_defaults(run=_run_async(_users_remove))
    return parser


def _comma_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from parley.server.app import create_app
    from parley.server.log_setup import log_config
    from parley.server.uvicorn_config import uvicorn_config

    logs = log_config(settings.log_level)
    logging.config.dictConfig(logs)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn_config(
            app, settings, host=settings.host, port=settings.port, log_config=logs, timeout_graceful_shutdown=10
        )
    )
    # uvicorn re-raises the Ctrl-C it handled once it has shut down; that is a clean stop (as in uvicorn.run).
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 1  # it could not start (the port is taken...): uvicorn has said why


def _run_async(
    command: Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return asyncio.run(command(args, settings))

    return run


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ParleyError("The passwords do not match.")
    return first


async def _with_auth(settings: Settings, action: Callable[[AuthService, Stores], Awaitable[int]]) -> int:
    from parley.core.store.registry import open_stores
    from parley.runtime import build_auth

    async with open_stores(settings.store, settings) as stores:
        return await action(build_auth(settings, stores), stores)


async def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args.password_stdin)

    async def add(auth: AuthService, _stores: Stores) -> int:
        user = await auth.create_user(args.name, password, is_admin=args.admin)
        print(f"Created user {user.username}{' (admin)' if user.is_admin else ''}.")
        return 0

    return await _with_auth(settings, add)


async def _users_list(args: argparse.Namespace, settings: Settings) -> int:
    async def show(_auth: AuthService, stores: Stores) -> int:
        users = await stores.users.list_users()
        if not users:
            print("No users yet. Create one with: parley users add NAME --admin")
        for user in users:
            flags = [flag for flag, on in (("admin", user.is_admin), ("disabled", user.disabled)) if on]
            print(user.username + (f"  ({', '.join(flags)})" if flags else ""))
        return 0

    return await _with_auth(settings, show)


async def _users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args.password_stdin)

    async def change(auth: AuthService, _stores: Stores) -> int:
        await auth.change_password(args.name, password)
        print(f"Password changed for {args.name}; their sessions are signed out.")
        return 0

    return await _with_auth(settings, change)


def _users_set_disabled(disabled: bool) -> Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]:
    async def command(args: argparse.Namespace, settings: Settings) -> int:
        async def apply(auth: AuthService, _stores: Stores) -> int:
            await auth.set_disabled(args.name, disabled)
            print(f"{args.name} is {'disabled and signed out' if disabled else 'enabled'}.")
            return 0

        return await _with_auth(settings, apply)

    return command


async def _users_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(auth: AuthService, _stores: Stores) -> int:
        await auth.remove_user(args.name)
        print(f"Removed {args.name} and their conversations.")
        return 0

    return await _with_auth(settings, remove)


async def _models(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from parley.core.providers.endpoints import endpoints_from_settings
    from parley.core.providers.registry import build_model_registry

    registry = await build_model_registry(settings, endpoints_from_settings(settings, os.environ))
    try:
        default = registry.default_model
        for info in registry.list_models():
            marker = "*" if info.id == default else " "
            print(f"{marker} {info.id:40} {info.provider:10} context {info.context_window}")
        if default is None:
            print("No models available.")
    finally:
        await registry.aclose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
