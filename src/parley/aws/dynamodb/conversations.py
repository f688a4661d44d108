"""Conversations and messages on DynamoDB.

A conversation item lives under its owner's partition, so every lookup is scoped by owner through
its key. Listing is a Query on ``gsi1`` ordered by last activity, never a Scan. Message numbers come
from an atomic counter on the conversation item, so concurrent writers never collide, and a message
id is ``<conversation_id>.<seq>``. Content past 100 KB is split over extra items, so a long answer
never meets the 400 KB item limit.
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
from parley.aws.dynamodb.table import GSI1, Table, is_condition_failure
from parley.core.store.base import Conversation, ConversationPage, Message, MessageStatus
from parley.errors import InvalidInput

PART_BYTES = 100_000
# With a title filter a page may need several reads; this bounds the work one request can cause.
_MAX_FILTERED_READS = 40


def split_content(content: str, part_bytes: int = PART_BYTES) -> list[str]:
    """Split text into pieces of at most ``part_bytes`` UTF-8 bytes, never inside a character."""
    data = content.encode("utf-8")
    parts: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + part_bytes, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte: back off
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts or [""]


def _conversation(item: dict[str, Any]) -> Conversation:
    return Conversation(
        id=item["conversation_id"],
        user_id=item["user_id"],
        title=item["title"],
        model=item["model"],
        created_at=float(item["created_at"]),
        updated_at=float(item["updated_at"]),
    )


def _message_id(conversation_id: str, seq: int) -> str:
    return f"{conversation_id}.{seq}"


def _parse_message_id(message_id: str) -> tuple[str, int] | None:
    conversation_id, _, seq = message_id.rpartition(".")
    return (conversation_id, int(seq)) if conversation_id and seq.isdigit() else None


def _assemble(items: list[dict[str, Any]]) -> list[Message]:
    """Messages from a conversation's items (main items and content parts, in key order)."""
    mains: dict[int, dict[str, Any]] = {}
    parts: dict[int, dict[int, str]] = {}
    for item in items:
        if "part" in item:
            parts.setdefault(int(item["seq"]), {})[int(item["part"])] = item["content"]
        else:
            mains[int(item["seq"])] = item
    messages = []
    for seq in sorted(mains):
        item = mains[seq]
        extra = parts.get(seq, {})
        content = item["content"] + "".join(extra[n] for n in range(1, int(item.get("parts", 1))) if n in extra)
        messages.append(
            Message(
                id=_message_id(item["conversation_id"], seq),
                conversation_id=item["conversation_id"],
                seq=seq,
                role=item["role"],
                content=content,
                status=MessageStatus(item["status"]),
                created_at=float(item["created_at"]),
                updated_at=float(item["updated_at"]),
                model=item.get("model"),
                finish_reason=item.get("finish_reason"),
                prompt_tokens=item.get("prompt_tokens"),
                completion_tokens=item.get("completion_tokens"),
                client_msgid=item.get("client_msgid"),
            )
        )
    return messages


class DynamoConversationStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def create_conversation(self, user_id: str, title: str, model: str) -> Conversation:
        now = time.time()
        conversation = Conversation(
            id=uuid.uuid4().hex, user_id=user_id, title=title, model=model, created_at=now, updated_at=now
        )
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
                "created_at": now,
                "updated_at": now,
                "next_seq": 0,
            },
            condition="attribute_not_exists(pk)",
        )
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
        return _conversation(item)

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        try:
            await self._table.delete(*keys.conversation(user_id, conversation_id), condition="attribute_exists(pk)")
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        await self._delete_messages(conversation_id, from_seq=0)
        return True

    async def delete_all_for_user(self, user_id: str) -> None:
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :c)", {":p": keys.user(user_id)[0], ":c": "CONV#"}
        )
        for item in items:
            await self.delete_conversation(user_id, item["conversation_id"])

    async def add_message(
        self,
        user_id: str,
        conversation_id: str,
        *,
        role: str,
        content: str,
        status: MessageStatus,
        model: str | None = None,
        client_msgid: str | None = None,
    ) -> Message | None:
        now = time.time()
        try:
            # One call checks ownership, takes the next number and marks the conversation active.
            updated = await self._table.update(
                *keys.conversation(user_id, conversation_id),
                "SET updated_at = :now, gsi1sk = :recency ADD next_seq :one",
                values={":now": now, ":recency": keys.recency(now, conversation_id), ":one": 1},
                condition="attribute_exists(pk)",
                returns="UPDATED_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        seq = int(updated["next_seq"])
        message = Message(
            id=_message_id(conversation_id, seq),
            conversation_id=conversation_id,
            seq=seq,
            role=role,
            content=content,
            status=status,
            created_at=now,
            updated_at=now,
            model=model,
            client_msgid=client_msgid,
        )
        await self._write_message(message)
        return message

    async def _write_message(self, message: Message) -> None:
        parts = split_content(message.content)
        pk = keys.messages(message.conversation_id)
        await self._table.put(
            {
                "pk": pk,
                "sk": keys.message(message.seq),
                "conversation_id": message.conversation_id,
                "seq": message.seq,
                "role": message.role,
                "content": parts[0],
                "parts": len(parts),
                "status": message.status.value,
                "model": message.model,
                "finish_reason": message.finish_reason,
                "prompt_tokens": message.prompt_tokens,
                "completion_tokens": message.completion_tokens,
                "client_msgid": message.client_msgid,
                "created_at": message.created_at,
                "updated_at": message.updated_at,
            }
        )
        for number, text in enumerate(parts[1:], start=1):
            await self._write_part(message.conversation_id, message.seq, number, text)

    async def _write_part(self, conversation_id: str, seq: int, part: int, text: str) -> None:
        await self._table.put(
            {
                "pk": keys.messages(conversation_id),
                "sk": keys.message(seq, part),
                "seq": seq,
                "part": part,
                "content": text,
            }
        )

    async def update_message(
        self,
        message_id: str,
        *,
        content: str,
        status: MessageStatus,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None:
        parsed = _parse_message_id(message_id)
        if parsed is None:
            return
        conversation_id, seq = parsed
        parts = split_content(content)
        expression = "SET content = :c, parts = :n, #status = :s, updated_at = :now"
        values: dict[str, Any] = {":c": parts[0], ":n": len(parts), ":s": status.value, ":now": time.time()}
        for name, value in (
            ("finish_reason", finish_reason),
            ("prompt_tokens", prompt_tokens),
            ("completion_tokens", completion_tokens),
        ):
            if value is not None:
                expression += f", {name} = :{name}"
                values[f":{name}"] = value
        try:
            old = await self._table.update(
                keys.messages(conversation_id),
                keys.message(seq),
                expression,
                values=values,
                names={"#status": "status"},
                condition="attribute_exists(pk)",
                returns="UPDATED_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return  # the conversation was deleted meanwhile: nothing to save into
            raise
        for number, text in enumerate(parts[1:], start=1):
            await self._write_part(conversation_id, seq, number, text)
        stale = range(len(parts), int(old.get("parts", 1)))
        if stale:
            await self._table.delete_keys((keys.messages(conversation_id), keys.message(seq, n)) for n in stale)

    async def list_messages(self, user_id: str, conversation_id: str) -> list[Message] | None:
        if await self.get_conversation(user_id, conversation_id) is None:
            return None
        items = await self._table.query_all(
            "pk = :p AND begins_with(sk, :m)", {":p": keys.messages(conversation_id), ":m": "MSG#"}
        )
        return _assemble(items)

    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            page, start, _ = await self._table.query(
                "pk = :p AND begins_with(sk, :m)",
                {":p": keys.messages(conversation_id), ":m": "MSG#"},
                forward=False,
                limit=limit + 1,
                start_key=start,
            )
            items.extend(page)
            if start is None or sum(1 for item in items if "part" not in item) > limit:
                break
        # Read backwards, a message's parts come before it, so every message assembled is whole.
        return _assemble(items)[-limit:]

    async def truncate_from(self, user_id: str, conversation_id: str, message_id: str) -> Message | None:
        parsed = _parse_message_id(message_id)
        if parsed is None or parsed[0] != conversation_id:
            return None
        messages = await self.list_messages(user_id, conversation_id)
        target = next((m for m in messages or [] if m.seq == parsed[1]), None)
        if target is None:
            return None
        await self._delete_messages(conversation_id, from_seq=target.seq)
        return target

    async def _delete_messages(self, conversation_id: str, from_seq: int) -> None:
        items = await self._table.query_all(
            "pk = :p AND sk >= :from",
            {":p": keys.messages(conversation_id), ":from": keys.message(from_seq)},
        )
        await self._table.delete_keys((item["pk"], item["sk"]) for item in items if str(item["sk"]).startswith("MSG#"))


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
