"""``parley keys``: create, list and revoke a user's API keys (for the OpenAI-compatible ``/v1`` endpoint)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from parley.cli.support import Subcommands, run_async, with_stores
from parley.config import Settings
from parley.errors import NotFound

if TYPE_CHECKING:
    from parley.core.store.base import Stores, User


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(title="keys commands")
    create = keys.add_parser("create", parents=[common], help="make a key and print it (shown this once)")
    create.add_argument("name")
    create.add_argument("--user", required=True, help="whose key it is")
    create.add_argument("--expires-in-days", type=int, help="refuse the key after this many days (default: never)")
    create.add_argument(
        "--save-conversations", action="store_true", help="save each request made with the key as a conversation"
    )
    create.set_defaults(run=run_async(_create))
    listing = keys.add_parser("list", parents=[common], help="list a user's keys")
    listing.add_argument("--user", required=True)
    listing.set_defaults(run=run_async(_list))
    revoke = keys.add_parser("revoke", parents=[common], help="revoke a key: it is refused from now on")
    revoke.add_argument("name")
    revoke.add_argument("--user", required=True)
    revoke.set_defaults(run=run_async(_revoke))


async def _user(stores: Stores, username: str) -> User:
    user = await stores.users.get_user_by_name(username)
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


async def _create(args: argparse.Namespace, settings: Settings) -> int:
    from parley.core.auth.api_keys import ApiKeys

    async def create(stores: Stores) -> int:
        made = await ApiKeys(stores.api_keys, stores.users).create(
            await _user(stores, args.user),
            args.name,
            expires_in_days=args.expires_in_days,
            save_conversations=args.save_conversations,
        )
        print(made.text)  # alone on stdout, so that `KEY=$(parley keys create ...)` works
        return 0

    return await with_stores(settings, create)


def _when(stamp: float | None, never: str) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp is not None else never


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def show(stores: Stores) -> int:
        user = await _user(stores, args.user)
        keys = await stores.api_keys.list_keys(user.id)
        if not keys:
            print(f"{user.username} has no API keys. Make one with: parley keys create NAME --user {user.username}")
        for key in keys:
            state = "revoked" if key.revoked else f"expires {_when(key.expires_at, 'never')}"
            print(
                f"{key.name:24} {key.prefix}…  created {_when(key.created_at, '-')}  "
                f"last used {_when(key.last_used_at, 'never')}  {state}"
            )
        return 0

    return await with_stores(settings, show)


async def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from parley.core.auth.api_keys import ApiKeys

    async def revoke(stores: Stores) -> int:
        user = await _user(stores, args.user)
        await ApiKeys(stores.api_keys, stores.users).revoke_by_name(user.id, args.name)
        print(f"Revoked {user.username}'s key {args.name}.")
        return 0

    return await with_stores(settings, revoke)
