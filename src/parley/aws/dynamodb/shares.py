"""Shares on DynamoDB: a share's snapshot lives in a partition of its own, keyed by its token's hash.

The public page reads that partition with one Query: the share's item (title, owner, the first 100 KB of the
messages' JSON) and, for a long conversation, chunk items holding the rest (an item is at most 400 KB). The owner's
list is an item in the user's partition (``gsi1``: the user's shares by age) that also holds the token's hash, so
revoking finds the snapshot without ever having the token. A share is made by writing its chunks, then its item and
the owner's in one transaction that checks the conversation still exists; revoking deletes the share's item first,
so the link is dead at once, then the chunks, then the owner's item (a revoke cut short can be done again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.messages import split_content
from parley.aws.dynamodb.table import GSI1, Table, is_condition_failure
from parley.core.store.base import Share, SharedMessage, SharedSnapshot
from parley.core.store.snapshots import messages_from_json, messages_to_json


def _share(item: dict[str, Any]) -> Share:
    return Share(
        id=item["share_id"],
        user_id=item["user_id"],
        conversation_id=item["conversation_id"],
        title=item["title"],
        created_at=float(item["created_at"]),
    )


class DynamoShareStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def create_share(self, share: Share, token_hash: str, messages: Sequence[SharedMessage]) -> bool:
        body = split_content(await asyncio.to_thread(messages_to_json, messages))
        pk, sk = keys.share(token_hash)
        chunks = [{"pk": pk, "sk": keys.share_chunk(n), "body": text} for n, text in enumerate(body[1:], start=1)]
        await self._table.put_many(chunks)
        fields = {
            "share_id": share.id,
            "user_id": share.user_id,
            "conversation_id": share.conversation_id,
            "title": share.title,
            "created_at": share.created_at,
        }
        owner_pk, owner_sk = keys.share_of_owner(share.user_id, share.id)
        try:
            await self._table.transact(
                [
                    self._table.check_action(
                        *keys.conversation(share.user_id, share.conversation_id), "attribute_exists(pk)"
                    ),
                    self._table.put_action(
                        {"pk": pk, "sk": sk, **fields, "body": body[0], "chunks": len(body)},
                        condition="attribute_not_exists(pk)",
                    ),
                    self._table.put_action(
                        {
                            "pk": owner_pk,
                            "sk": owner_sk,
                            "gsi1pk": keys.shares_index(share.user_id),
                            "gsi1sk": keys.recency(share.created_at, share.id),
                            "token_hash": token_hash,
                            **fields,
                        },
                        condition="attribute_not_exists(pk)",
                    ),
                ]
            )
        except ClientError as error:
            await self._table.delete_keys((chunk["pk"], chunk["sk"]) for chunk in chunks)
            if is_condition_failure(error):
                return False
            raise
        return True

    async def list_shares(self, user_id: str) -> list[Share]:
        items = await self._table.query_all(
            "gsi1pk = :p", {":p": keys.shares_index(user_id)}, index=GSI1, forward=False
        )
        return [_share(item) for item in items]

    async def delete_share(self, user_id: str, share_id: str) -> bool:
        owner_keys = keys.share_of_owner(user_id, share_id)
        owner = await self._table.get(*owner_keys)
        if owner is None:
            return False
        pk, sk = keys.share(owner["token_hash"])
        await self._table.delete(pk, sk)
        chunks = await self._table.query_all("pk = :p", {":p": pk})
        await self._table.delete_keys((chunk["pk"], chunk["sk"]) for chunk in chunks)
        await self._table.delete(*owner_keys)
        return True

    async def delete_for_conversation(self, user_id: str, conversation_id: str) -> None:
        for share in await self.list_shares(user_id):
            if share.conversation_id == conversation_id:
                await self.delete_share(user_id, share.id)

    async def delete_all_for_user(self, user_id: str) -> None:
        for share in await self.list_shares(user_id):
            await self.delete_share(user_id, share.id)

    async def get_snapshot(self, token_hash: str) -> SharedSnapshot | None:
        pk, sk = keys.share(token_hash)
        items = await self._table.query_all("pk = :p", {":p": pk})
        found = {item["sk"]: item for item in items}
        main = found.get(sk)
        if main is None:
            return None
        pieces = [main["body"]]
        for n in range(1, int(main["chunks"])):
            chunk = found.get(keys.share_chunk(n))
            if chunk is None:  # being revoked right now
                return None
            pieces.append(chunk["body"])
        messages = await asyncio.to_thread(messages_from_json, "".join(pieces))
        return SharedSnapshot(title=main["title"], messages=messages, created_at=float(main["created_at"]))
