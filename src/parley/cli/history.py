"""``parley export`` and ``parley import``: a user's history out to an archive and back in, on whichever store
(``--store``) the command is pointed at, so a history moves between a local Parley and a serverless one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from parley import __version__
from parley.cli.support import Subcommands, run_async
from parley.config import Settings
from parley.errors import NotFound

if TYPE_CHECKING:
    from parley.core.history.export import HistoryExport
    from parley.core.store.base import Stores, User


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    export = commands.add_parser(
        "export", parents=[common], help="write a user's conversations to a zip archive (standard output by default)"
    )
    export.add_argument("--user", required=True, help="whose conversations")
    export.add_argument("--output", "-o", type=Path, help="write the archive to this file instead")
    export.set_defaults(run=run_async(_export))

    imports = commands.add_parser(
        "import", parents=[common], help="import conversations (a Parley archive, or another app's export)"
    )
    imports.add_argument("path", type=Path, help="the file to import")
    imports.add_argument("--user", required=True, help="into whose account")
    imports.set_defaults(run=run_async(_import))


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    from parley.core.history.export import HistoryExport
    from parley.core.store.registry import open_stores

    async with open_stores(settings.store, settings) as stores:
        user = await _user(stores, args.user)
        export = HistoryExport(stores.conversations, stores.messages, app_version=__version__)
        if args.output is None:
            if sys.stdout.isatty():
                print("parley: the archive is binary; redirect it (> archive.zip) or use --output.", file=sys.stderr)
                return 2
            await _write(export, user.id, sys.stdout.buffer)
        else:
            partial = args.output.with_name(args.output.name + ".partial")
            with partial.open("wb") as out:
                await _write(export, user.id, out)
            partial.replace(args.output)  # a failed export leaves no archive that looks whole
            print(f"Exported {user.username}'s conversations to {args.output}.", file=sys.stderr)
    return 0


async def _write(export: HistoryExport, user_id: str, out: IO[bytes]) -> None:
    async for chunk in export.archive(user_id):
        out.write(chunk)
    out.flush()


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    from parley.core.history.importer import HistoryImporter
    from parley.core.store.registry import open_stores

    if not args.path.is_file():
        print(f"parley: {args.path} is not a file.", file=sys.stderr)
        return 1
    async with open_stores(settings.store, settings) as stores:
        user = await _user(stores, args.user)
        importer = HistoryImporter(stores.conversations, stores.messages, stores.imports)
        result = await importer.run(user.id, args.path)
    print(f"Imported {result.conversations_imported} conversation(s) for {user.username}.")
    if result.duplicates:
        print(f"{result.duplicates} were imported before and were skipped (no duplicates).")
    if result.skipped:
        print(f"Skipped {len(result.skipped)} that could not be read:")
        for skipped in result.skipped:
            print(f"  {skipped.name}: {skipped.reason}")
    return 0


async def _user(stores: Stores, name: str) -> User:
    user = await stores.users.get_user_by_name(name)
    if user is None:
        raise NotFound(f"There is no user named {name!r}.")
    return user
