"""``parley users``: create, list, change and remove accounts, and approve or reject those that signed up."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from parley.cli.support import Subcommands, read_password, run_async, with_auth
from parley.config import Settings

if TYPE_CHECKING:
    from parley.core.auth.service import AuthService
    from parley.core.store.base import Stores


def add_commands(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    users = commands.add_parser("users", help="manage accounts").add_subparsers(title="users commands")
    add = users.add_parser("add", parents=[common], help="create an account")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="make the account an administrator")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=run_async(_users_add))
    users.add_parser("list", parents=[common], help="list accounts").set_defaults(run=run_async(_users_list))
    passwd = users.add_parser("passwd", parents=[common], help="set a new password (signs the user out everywhere)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd.set_defaults(run=run_async(_users_passwd))
    for name, disabled, text in (
        ("disable", True, "block an account"),
        ("enable", False, "unblock an account"),
    ):
        sub = users.add_parser(name, parents=[common], help=text)
        sub.add_argument("name")
        sub.set_defaults(run=run_async(_users_set_disabled(disabled)))
    remove = users.add_parser("remove", parents=[common], help="delete an account and its conversations")
    remove.add_argument("name")
    remove.set_defaults(run=run_async(_users_remove))
    users.add_parser("pending", parents=[common], help="list accounts waiting for approval (sign-up)").set_defaults(
        run=run_async(_users_pending)
    )
    for name, text in (("approve", "let a signed-up account log in"), ("reject", "delete a signed-up account")):
        sub = users.add_parser(name, parents=[common], help=text)
        sub.add_argument("name")
        sub.set_defaults(run=run_async(_users_decide(approve=name == "approve")))


async def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args.password_stdin)

    async def add(auth: AuthService, _stores: Stores) -> int:
        user = await auth.create_user(args.name, password, is_admin=args.admin)
        print(f"Created user {user.username}{' (admin)' if user.is_admin else ''}.")
        return 0

    return await with_auth(settings, add)


async def _users_list(args: argparse.Namespace, settings: Settings) -> int:
    async def show(_auth: AuthService, stores: Stores) -> int:
        users = await stores.users.list_users()
        if not users:
            print("No users yet. Create one with: parley users add NAME --admin")
        for user in users:
            flags = [
                flag
                for flag, on in (("admin", user.is_admin), ("disabled", user.disabled), ("pending", user.pending))
                if on
            ]
            print(user.username + (f"  ({', '.join(flags)})" if flags else ""))
        return 0

    return await with_auth(settings, show)


async def _users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args.password_stdin)

    async def change(auth: AuthService, _stores: Stores) -> int:
        await auth.change_password(args.name, password)
        print(f"Password changed for {args.name}; their sessions are signed out.")
        return 0

    return await with_auth(settings, change)


def _users_set_disabled(disabled: bool) -> Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]:
    async def command(args: argparse.Namespace, settings: Settings) -> int:
        async def apply(auth: AuthService, _stores: Stores) -> int:
            await auth.set_disabled(args.name, disabled)
            print(f"{args.name} is {'disabled and signed out' if disabled else 'enabled'}.")
            return 0

        return await with_auth(settings, apply)

    return command


async def _users_remove(args: argparse.Namespace, settings: Settings) -> int:
    async def remove(auth: AuthService, _stores: Stores) -> int:
        await auth.remove_user(args.name)
        print(f"Removed {args.name} and their conversations.")
        return 0

    return await with_auth(settings, remove)


async def _users_pending(args: argparse.Namespace, settings: Settings) -> int:
    async def show(_auth: AuthService, stores: Stores) -> int:
        pending = [user for user in await stores.users.list_users() if user.pending]
        if not pending:
            print("No accounts are waiting for approval.")
        for user in pending:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(user.created_at))
            print(f"{user.username}  signed up {when}" + (f"  <{user.email}>" if user.email else ""))
        return 0

    return await with_auth(settings, show)


def _users_decide(*, approve: bool) -> Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]:
    async def command(args: argparse.Namespace, settings: Settings) -> int:
        async def decide(auth: AuthService, _stores: Stores) -> int:
            if approve:
                await auth.approve_user(args.name)
                print(f"{args.name} is approved and can log in.")
            else:
                await auth.reject_user(args.name)
                print(f"{args.name} is rejected; the account is deleted.")
            return 0

        return await with_auth(settings, decide)

    return command
