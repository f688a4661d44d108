"""What every ``parley`` command group shares: running a coroutine as a command, reading a password, and opening
the configured stores with the auth service over them."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from parley.config import Settings
from parley.errors import ParleyError

if TYPE_CHECKING:
    from parley.core.auth.service import AuthService
    from parley.core.files.base import FileBlobs
    from parley.core.store.base import Stores

Command = Callable[[argparse.Namespace, Settings], int]
AsyncCommand = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]
# What ``commands.add_parser(...)`` returns a group of; argparse does not export the type.
Subcommands = Any


class CommandGroup(Protocol):
    """A module of commands: ``add_commands`` adds its parsers, each with ``set_defaults(run=...)``."""

    def add_commands(self, commands: Subcommands, common: argparse.ArgumentParser) -> None: ...


def run_async(command: AsyncCommand) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return asyncio.run(command(args, settings))

    return run


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ParleyError("The passwords do not match.")
    return first


async def with_stores(settings: Settings, action: Callable[[Stores], Awaitable[int]]) -> int:
    """Open the configured stores for one command."""
    from parley.core.store.registry import open_stores

    async with open_stores(settings.store, settings) as stores:
        return await action(stores)


async def with_auth(settings: Settings, action: Callable[[AuthService, Stores], Awaitable[int]]) -> int:
    """Open the configured stores for one command and hand it the auth service over them."""
    from parley.compose.auth import build_auth
    from parley.compose.files import build_files
    from parley.core.store.registry import open_stores

    async with open_stores(settings.store, settings) as stores:
        # `parley users remove` removes the user's attached files too (records, passages, bytes).
        files = build_files(settings, stores, _deployment_files(settings))
        return await action(build_auth(settings, stores, before_remove=files.delete_user_files), stores)


def _deployment_files(settings: Settings) -> FileBlobs | None:
    """A deployment's files bucket, when one is named: removing a user removes their files from it (by default,
    from this machine's data directory)."""
    if not settings.files_bucket:
        return None
    from parley.aws.files_bucket import bucket_blobs  # boto3 is imported only by a command that needs it

    return bucket_blobs(settings)
