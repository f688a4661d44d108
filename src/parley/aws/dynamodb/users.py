"""Users on DynamoDB: a username claim item makes names unique, written in one transaction with the user."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.files import DynamoFileStore
from parley.aws.dynamodb.shares import DynamoShareStore
from parley.aws.dynamodb.table import GSI1, Table, is_condition_failure
from parley.core.store.base import User, new_user
from parley.errors import Conflict

_NO_SUCH_USER = "-"  # user ids are hex; this one never exists


def _user(item: dict[str, Any]) -> User:
    return User(
        id=item["user_id"],
        username=item["username"],
        password_hash=item["password_hash"],
        is_admin=bool(item.get("is_admin", False)),
        disabled=bool(item.get("disabled", False)),
        token_version=int(item.get("token_version", 0)),
        created_at=float(item["created_at"]),
        pending=bool(item.get("pending", False)),
        email=item.get("email"),
    )


def new_user_puts(user: User) -> list[tuple[dict[str, Any], str]]:
    """The items that make ``user`` (its username's claim, then the user), each put only if it is not there."""
    name_pk, name_sk = keys.username(user.username)
    pk, sk = keys.user(user.id)
    record: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "gsi1pk": keys.USERS_INDEX,
        "gsi1sk": user.username.casefold(),
        "user_id": user.id,
        "username": user.username,
        "password_hash": user.password_hash,
        "is_admin": user.is_admin,
        "disabled": False,
        "token_version": 0,
        "created_at": user.created_at,
    }
    if user.pending:
        record["pending"] = True
    if user.email is not None:
        record["email"] = user.email
    return [
        ({"pk": name_pk, "sk": name_sk, "user_id": user.id}, "attribute_not_exists(pk)"),
        (record, "attribute_not_exists(pk)"),
    ]


class DynamoUserStore:
    def __init__(
        self, table: Table, conversations: Any, usage: Any, shares: DynamoShareStore, files: DynamoFileStore
    ) -> None:
        self._table = table
        self._conversations = conversations
        self._usage = usage
        self._shares = shares
        self._files = files

    async def create_user(
        self,
        username: str,
        password_hash: str,
        *,
        is_admin: bool = False,
        pending: bool = False,
        email: str | None = None,
    ) -> User:
        user = new_user(username, password_hash, is_admin=is_admin, pending=pending, email=email)
        try:
            await self._table.transact_put(new_user_puts(user))
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict(f"The username {username!r} is taken.") from None
            raise
        return user

    async def get_user_by_name(self, username: str) -> User | None:
        claim = await self._table.get(*keys.username(username))
        # A miss reads a second (absent) item too, so that the time a login takes does not tell whether
        # the username exists: a hit always costs two reads.
        return await self.get_user(claim["user_id"] if claim else _NO_SUCH_USER)

    async def get_user(self, user_id: str) -> User | None:
        item = await self._table.get(*keys.user(user_id))
        return _user(item) if item else None

    async def list_users(self) -> list[User]:
        items = await self._table.query_all("gsi1pk = :p", {":p": keys.USERS_INDEX}, index=GSI1)
        return [_user(item) for item in items]

    async def count_users(self) -> int:
        total = 0
        start: dict[str, Any] | None = None
        while True:
            _, start, count = await self._table.query(
                "gsi1pk = :p", {":p": keys.USERS_INDEX}, index=GSI1, start_key=start, count_only=True
            )
            total += count
            if start is None:
                return total

    async def set_password_hash(self, user_id: str, password_hash: str, *, revoke_tokens: bool) -> None:
        await self._update_existing(
            user_id,
            "SET password_hash = :h ADD token_version :bump",
            {":h": password_hash, ":bump": int(revoke_tokens)},
        )

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        await self._update_existing(user_id, "SET disabled = :d ADD token_version :one", {":d": disabled, ":one": 1})

    async def _update_existing(self, user_id: str, expression: str, values: dict[str, Any]) -> None:
        try:
            await self._table.update(*keys.user(user_id), expression, values=values, condition="attribute_exists(pk)")
        except ClientError as error:
            if not is_condition_failure(error):
                raise

    async def _api_key_items(self, user_id: str) -> list[tuple[str, str]]:
        """Every item of the user's API keys: the owner's records and name claims, and each key's lookup item."""
        pk, _ = keys.user(user_id)
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :k)", {":p": pk, ":k": keys.API_KEY_ITEMS_PREFIX}
        )
        found = [(item["pk"], item["sk"]) for item in items]
        found += [keys.api_key(item["key_hash"]) for item in items if "key_hash" in item]
        return found

    async def delete_user(self, user_id: str) -> bool:
        user = await self.get_user(user_id)
        if user is None:
            return False
        await self._shares.delete_all_for_user(user_id)  # first: a user who is removed leaves no public link
        await self._conversations.delete_all_for_user(user_id)
        await self._usage.delete_all_for_user(user_id)
        await self._files.delete_all_for_user(user_id)  # the records: their blobs are the files service's
        imports = await self._table.query_all(
            "pk = :p AND begins_with(sk, :i)", {":p": keys.user(user_id)[0], ":i": keys.USER_IMPORTS_PREFIX}
        )
        await self._table.delete_keys((item["pk"], item["sk"]) for item in imports)
        await self._table.delete_keys(
            [
                *await self._api_key_items(user_id),
                keys.preferences(user_id),
                keys.username(user.username),
                keys.user(user_id),
            ]
        )
        return True

    async def approve_user(self, user_id: str) -> bool:
        try:
            await self._table.update(
                *keys.user(user_id),
                "REMOVE pending",
                condition="attribute_exists(pk) AND pending = :yes",
                values={":yes": True},
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True
