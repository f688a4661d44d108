"""Conversations on DynamoDB (their messages are in ``messages.py``).

A conversation item lives under its owner's partition, so every lookup is scoped by owner through
its key. Listing is a Query on ``gsi1`` ordered by last activity, never a Scan. The item also holds
the counter its messages take their ``seq`` from, and its current leaf.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.search import DynamoSearchIndex
from parley.aws.dynamodb.shares import DynamoShareStore
from parley.aws.dynamodb.table import GSI1, Table, is_condition_failure
from parley.core.store.base import Conversation, ConversationPage
from parley.errors import InvalidInput

# With a title filter a page may need several reads; this bounds the work one request can cause.
_MAX_FILTERED_READS = 40


def _conversation(item: dict[str, Any]) -> Conversation:
    return Conversation(
        id=item["conversation_id"],
        user_id=item["user_id"],
        title=item["title"],
        model=item["model"],
        created_at=float(item["created_at"]),
        updated_at=float(item["updated_at"]),
        current_leaf_id=item.get("current_leaf_id"),
    )


class DynamoConversationStore:
    def __init__(self, table: Table, search: DynamoSearchIndex, shares: DynamoShareStore) -> None:
        self._table = table
        self._search = search
        self._shares = shares

    async def create_conversation(
        self, user_id: str, title: str, model: str, *, created_at: float | None = None, updated_at: float | None = None
    ) -> Conversation:
        created = time.time() if created_at is None else created_at
        conversation = Conversation(
            id=uuid.uuid4().hex,
            user_id=user_id,
            title=title,
            model=model,
            created_at=created,
            updated_at=created if updated_at is None else updated_at,
        )
        now = conversation.updated_at
        pk, sk = keys.conversation(user_id, conversation.id)
        await self._table.put(
            {
                "pk": pk,
                "sk": sk,
                "gsi1pk": keys.conversations_index(user_id),
                "gsi1sk": keys.recency(now, conversation.id),
                "conversation_id": conversation.id,
                "user_id": user_id,
                "title": title,
                "title_lc": title.casefold(),
                "model": model,
                "created_at": conversation.created_at,
                "updated_at": now,
                "next_seq": 0,
            },
            condition="attribute_not_exists(pk)",
        )
        await self._search.index_title(user_id, conversation.id, title, now, new=True)
        return conversation

    async def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None:
        item = await self._table.get(*keys.conversation(user_id, conversation_id))
        return _conversation(item) if item else None

    async def list_conversations(
        self, user_id: str, limit: int, cursor: str | None, *, title_contains: str | None = None
    ) -> ConversationPage:
        index_pk = keys.conversations_index(user_id)
        start = _decode_cursor(cursor, index_pk) if cursor else None
        found: list[dict[str, Any]] = []
        for _ in range(_MAX_FILTERED_READS):
            page, start, _ = await self._table.query(
                "gsi1pk = :p",
                {":p": index_pk, **({":q": title_contains.casefold()} if title_contains else {})},
                index=GSI1,
                forward=False,
                limit=limit + 1 - len(found),
                start_key=start,
                filter_expression="contains(title_lc, :q)" if title_contains else None,
            )
            found.extend(page)
            if len(found) > limit or start is None:
                break
        items = found[:limit]
        more = len(found) > limit or (start is not None and len(items) == limit)
        next_cursor = _encode_cursor(items[-1]) if items and more else None
        return ConversationPage(items=[_conversation(item) for item in items], next_cursor=next_cursor)

    async def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> Conversation | None:
        try:
            item = await self._table.update(
                *keys.conversation(user_id, conversation_id),
                "SET title = :t, title_lc = :lc",
                values={":t": title, ":lc": title.casefold()},
                condition="attribute_exists(pk)",
                returns="ALL_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        await self._search.index_title(user_id, conversation_id, title, time.time(), new=False)
        return _conversation(item)

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        try:
            await self._table.delete(*keys.conversation(user_id, conversation_id), condition="attribute_exists(pk)")
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        await self._shares.delete_for_conversation(user_id, conversation_id)
        await self._delete_messages(conversation_id)
        await self._search.drop_conversation(conversation_id)
        return True

    async def delete_all_for_user(self, user_id: str) -> None:
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :c)", {":p": keys.user(user_id)[0], ":c": "CONV#"}
        )
        for item in items:
            await self.delete_conversation(user_id, item["conversation_id"])

    async def _delete_messages(self, conversation_id: str) -> None:
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :m)", {":p": keys.messages(conversation_id), ":m": keys.MESSAGE_PREFIX}
        )
        await self._table.delete_keys((item["pk"], item["sk"]) for item in items)


def _encode_cursor(item: dict[str, Any]) -> str:
    key = {name: item[name] for name in ("pk", "sk", "gsi1pk", "gsi1sk")}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, index_pk: str) -> dict[str, Any]:
    try:
        key: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("The cursor is not valid.") from None
    valid = (
        isinstance(key, dict)
        and set(key) == {"pk", "sk", "gsi1pk", "gsi1sk"}
        and all(isinstance(v, str) for v in key.values())
        and key["gsi1pk"] == index_pk
    )
    if not valid:
        raise InvalidInput("The cursor is not valid.")
    return dict(key)
