"""``parley setup-code``: a new one-time link to create the first account in the browser (on AWS, where no
``parley serve`` prints one). Any earlier link stops working."""

from __future__ import annotations

import argparse

from parley.cli.support import Subcommands, run_async
from parley.config import Settings


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    command = commands.add_parser(
        "setup-code", parents=[common], help="print a one-time link to create the first (admin) account in the browser"
    )
    command.add_argument(
        "--url", help="the address of the web app, e.g. the CloudFront URL `make deploy` printed (default: local)"
    )
    command.set_defaults(run=run_async(_setup_code))


async def _setup_code(args: argparse.Namespace, settings: Settings) -> int:
    from parley.compose.auth import build_hasher, build_setup
    from parley.core.auth.setup import setup_link
    from parley.core.store.registry import open_stores
    from parley.server.app import server_url

    async with open_stores(settings.store, settings) as stores:
        code = await build_setup(stores, build_hasher(settings)).new_code()
    if code is None:
        print("Parley has accounts already: sign in, or add one with `parley users add NAME`.")
        return 1
    print("Open this link to create the first account, an admin (it works once):")
    print(f"\n    {setup_link(args.url or server_url(settings), code)}\n")
    return 0
