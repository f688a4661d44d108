"""``parley``: run the server and list models; the other command groups are modules of their own."""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.config
import sys
from collections.abc import Sequence
from pathlib import Path

from parley import __version__
from parley.cli import backups, budgets, doctor, history, keys, setup, users
from parley.cli.support import CommandGroup, run_async
from parley.config import Settings
from parley.errors import ParleyError

log = logging.getLogger("parley.cli")

# Each group of commands lives in its own module and adds its own parsers.
COMMAND_GROUPS: tuple[CommandGroup, ...] = (users, setup, keys, history, backups, budgets, doctor)


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
    common.add_argument(
        "--data-dir",
        type=Path,
        help="where the database and secret live (PARLEY_DATA_DIR; default ./data in a checkout, else the user data"
        " directory, e.g. ~/.local/share/parley)",
    )
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
    models.set_defaults(run=run_async(_models))

    for group in COMMAND_GROUPS:
        group.add_commands(commands, common)
    return parser


def _comma_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from parley.server.app import create_app
    from parley.server.graceful import GracefulServer
    from parley.server.log_setup import log_config
    from parley.server.uvicorn_config import uvicorn_config

    logs = log_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(logs)
    app = create_app(settings)
    server = GracefulServer(
        uvicorn_config(
            app, settings, host=settings.host, port=settings.port, log_config=logs, timeout_graceful_shutdown=10
        ),
        app,
        grace_seconds=settings.shutdown_grace_seconds,
    )
    # uvicorn re-raises the Ctrl-C it handled once it has shut down; that is a clean stop (as in uvicorn.run).
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 1  # it could not start (the port is taken...): uvicorn has said why


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
