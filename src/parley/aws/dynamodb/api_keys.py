"""API keys on DynamoDB: three items per key (see ``keys.py``), written and revoked in one transaction each.

A request with a key reads only the item found by the key's hash. The owner's record, in the user's partition,
is what a list reads (a consistent query, no index) and what a use touches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import Table, is_condition_failure
from parley.core.store.base import ApiKey
from parley.errors import Conflict


def _key(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        id=item["key_id"],
        user_id=item["user_id"],
        name=item["name"],
        prefix=item["prefix"],
        key_hash=item["key_hash"],
        created_at=float(item["created_at"]),
        expires_at=float(item["expires_at"]) if item.get("expires_at") is not None else None,
        last_used_at=float(item["last_used_at"]) if item.get("last_used_at") is not None else None,
        revoked=bool(item.get("revoked", False)),
        save_conversations=bool(item.get("save_conversations", False)),
    )


class DynamoApiKeyStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def create_key(self, key: ApiKey) -> None:
        fields = {
            "key_id": key.id,
            "user_id": key.user_id,
            "name": key.name,
            "prefix": key.prefix,
            "key_hash": key.key_hash,
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "revoked": False,
            "save_conversations": key.save_conversations,
        }
        lookup_pk, lookup_sk = keys.api_key(key.key_hash)
        record_pk, record_sk = keys.api_key_record(key.user_id, key.id)
        name_pk, name_sk = keys.api_key_name(key.user_id, key.name)
        new = "attribute_not_exists(pk)"
        try:
            await self._table.transact(
                [
                    self._table.put_action({"pk": name_pk, "sk": name_sk, "key_id": key.id}, condition=new),
                    self._table.put_action({"pk": lookup_pk, "sk": lookup_sk, **fields}, condition=new),
                    self._table.put_action({"pk": record_pk, "sk": record_sk, **fields}, condition=new),
                ]
            )
        except ClientError as error:
            if is_condition_failure(error):
                raise Conflict(f"You already have a key named {key.name!r}.") from None
            raise

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        item = await self._table.get(*keys.api_key(key_hash))
        return _key(item) if item else None

    async def list_keys(self, user_id: str) -> list[ApiKey]:
        pk, _ = keys.user(user_id)
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :k)", {":p": pk, ":k": keys.API_KEY_RECORD_PREFIX}
        )
        return sorted((_key(item) for item in items), key=lambda key: (key.created_at, key.id))

    async def revoke_key(self, user_id: str, key_id: str) -> ApiKey | None:
        record = await self._table.get(*keys.api_key_record(user_id, key_id))
        if record is None or record.get("revoked"):
            return None
        key = _key(record)
        revoke = "SET revoked = :t"
        try:
            await self._table.transact(
                [
                    self._table.update_action(
                        *keys.api_key_record(user_id, key_id),
                        revoke,
                        values={":t": True, ":f": False},
                        condition="revoked = :f",
                    ),
                    self._table.update_action(*keys.api_key(key.key_hash), revoke, values={":t": True}),
                    self._table.delete_action(*keys.api_key_name(user_id, key.name)),
                ]
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None  # revoked meanwhile
            raise
        return replace(key, revoked=True)

    async def touch_key(self, key: ApiKey, used_at: float, *, unless_since: float) -> None:
        # Both items carry it: the lookup item, so that the next request sees the key was just touched, and the
        # owner's record, which a list reads.
        values = {":now": used_at, ":since": unless_since}
        recent = "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :since)"
        try:
            await self._table.transact(
                [
                    self._table.update_action(
                        *keys.api_key(key.key_hash), "SET last_used_at = :now", values=values, condition=recent
                    ),
                    self._table.update_action(
                        *keys.api_key_record(key.user_id, key.id),
                        "SET last_used_at = :now",
                        values={":now": used_at},
                        condition="attribute_exists(pk)",
                    ),
                ]
            )
        except ClientError as error:
            if not is_condition_failure(error):  # touched this minute already, or revoked and gone: nothing to do
                raise
