"""The message log on DynamoDB: a conversation's messages live in the conversation's own partition.

A message item carries its owner's id, so saving an answer as it is generated is one conditional
UpdateItem. A new message takes its ``seq`` from an atomic counter on the conversation, then goes in with
one transaction that also checks its parent exists and moves the conversation's current leaf. A branch is
read by querying the partition (paged) and walking it in memory. Parts past 100 KB of JSON go on in chunk
items of the message's revision; a save writes the new revision's chunks before the message and drops the
old ones after, so a reader sees one revision or the other, whole.

Messages written before messages had parents (``MSG#<seq>`` items without ``message_id``) are read in
place and never rewritten: their id is ``<conversation_id>.<seq>``, their parent the message before them.
Saving one (which only happens to settle an answer its process left streaming) keeps that shape.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.search import DynamoSearchIndex, is_final
from parley.aws.dynamodb.table import Table, is_condition_failure
from parley.core.store.base import ROLES, Message, MessageStatus, check_new_message
from parley.core.store.parts import ContentPart, TextPart, parts_from_json, parts_to_json, text_of, text_parts
from parley.core.store.tree import current_path, path_to
from parley.errors import Conflict, InvalidInput

PART_BYTES = 100_000
# A save that lands between reading a message and reading its chunks is met by reading again.
_READ_ATTEMPTS = 4
# A message item (a chunk has no role): ids that address a chunk's key are never taken for a message.
_IS_MESSAGE = "attribute_exists(#role)"
_ROLE = {"#role": "role"}


def split_content(content: str, part_bytes: int = PART_BYTES) -> list[str]:
    """Split text into pieces of at most ``part_bytes`` UTF-8 bytes, never inside a character."""
    data = content.encode("utf-8")
    pieces: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + part_bytes, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte: back off
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces or [""]


class _Torn(Exception):
    """A chunk of a message's revision was missing: a save replaced it while the partition was read."""


def _legacy_seq(conversation_id: str, message_id: str) -> int | None:
    """The seq of a message written before messages had parents, from its id ``<conversation_id>.<seq>``."""
    rest = message_id.removeprefix(f"{conversation_id}.")
    if rest == message_id or not (rest.isascii() and rest.isdigit()) or len(rest) > 10:
        return None
    return int(rest)


def _sk(conversation_id: str, message_id: str) -> str:
    seq = _legacy_seq(conversation_id, message_id)
    return keys.message(message_id) if seq is None else keys.legacy_message(seq)


def _new_rev() -> str:
    return uuid.uuid4().hex[:12]


def _items(user_id: str, message: Message, rev: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The message's item and its chunk items (past the first 100 KB of its parts' JSON)."""
    pk, sk = keys.messages(message.conversation_id), keys.message(message.id)
    body = split_content(parts_to_json(message.parts))
    main = {
        "pk": pk,
        "sk": sk,
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "user_id": user_id,
        "parent_id": message.parent_id,
        "seq": message.seq,
        "role": message.role,
        "body": body[0],
        "chunks": len(body),
        "rev": rev,
        "status": message.status.value,
        "model": message.model,
        "params": json.dumps(message.params) if message.params is not None else None,
        "finish_reason": message.finish_reason,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "client_msgid": message.client_msgid,
        "created_at": message.created_at,
        "updated_at": message.updated_at,
    }
    return main, _chunk_items(pk, sk, message.id, rev, body)


def _chunk_items(pk: str, sk: str, message_id: str, rev: str, body: list[str]) -> list[dict[str, Any]]:
    return [
        {"pk": pk, "sk": keys.chunk(sk, rev, n), "message_id": message_id, "rev": rev, "chunk": n, "body": text}
        for n, text in enumerate(body[1:], start=1)
    ]


def _assemble(conversation_id: str, items: list[dict[str, Any]]) -> list[Message]:
    """Messages from a conversation's items (messages, chunks, and items of the earlier shape), by seq."""
    mains: list[dict[str, Any]] = []
    chunks: dict[tuple[str, str], dict[int, str]] = {}
    legacy: dict[int, dict[str, Any]] = {}
    legacy_parts: dict[int, dict[int, str]] = {}
    for item in items:
        if "message_id" in item:
            if "chunk" in item:
                chunks.setdefault((item["message_id"], item["rev"]), {})[int(item["chunk"])] = item["body"]
            else:
                mains.append(item)
        elif "part" in item:
            legacy_parts.setdefault(int(item["seq"]), {})[int(item["part"])] = item["content"]
        elif "role" in item:
            legacy[int(item["seq"])] = item

    messages: list[Message] = []
    parent: str | None = None
    for seq in sorted(legacy):
        item = legacy[seq]
        extra = legacy_parts.get(seq, {})
        content = item["content"] + "".join(extra[n] for n in range(1, int(item.get("parts", 1))) if n in extra)
        message_id = f"{conversation_id}.{seq}"
        messages.append(_message(item, message_id, seq, text_parts(content), parent))
        parent = message_id
    for item in mains:
        count = int(item.get("chunks", 1))
        found = chunks.get((item["message_id"], item.get("rev", "")), {})
        if any(n not in found for n in range(1, count)):
            raise _Torn()
        body = item["body"] + "".join(found[n] for n in range(1, count))
        parts = parts_from_json(body)
        messages.append(_message(item, item["message_id"], int(item["seq"]), parts, item.get("parent_id")))
    messages.sort(key=lambda m: m.seq)
    return messages


def _message(
    item: dict[str, Any], message_id: str, seq: int, parts: tuple[ContentPart, ...], parent_id: str | None
) -> Message:
    return Message(
        id=message_id,
        conversation_id=item["conversation_id"],
        seq=seq,
        role=item["role"],
        parts=parts,
        status=MessageStatus(item["status"]),
        created_at=float(item["created_at"]),
        updated_at=float(item["updated_at"]),
        parent_id=parent_id,
        model=item.get("model"),
        params=json.loads(item["params"]) if "params" in item else None,
        finish_reason=item.get("finish_reason"),
        prompt_tokens=item.get("prompt_tokens"),
        completion_tokens=item.get("completion_tokens"),
        client_msgid=item.get("client_msgid"),
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"A message's role is one of {', '.join(sorted(ROLES))}.")


def _outcome_fields(
    finish_reason: str | None, prompt_tokens: int | None, completion_tokens: int | None
) -> tuple[str, dict[str, Any]]:
    """The SET clauses and values for what a save gives (what it leaves out is kept)."""
    expression = ""
    values: dict[str, Any] = {}
    for name, value in (
        ("finish_reason", finish_reason),
        ("prompt_tokens", prompt_tokens),
        ("completion_tokens", completion_tokens),
    ):
        if value is not None:
            expression += f", {name} = :{name}"
            values[f":{name}"] = value
    return expression, values


class DynamoMessageLog:
    def __init__(self, table: Table, search: DynamoSearchIndex) -> None:
        self._table = table
        self._search = search  # told of every message written final, and of an answer when it becomes final

    async def _conversation(self, user_id: str, conversation_id: str) -> dict[str, Any] | None:
        return await self._table.get(*keys.conversation(user_id, conversation_id))

    async def _read(self, conversation_id: str) -> list[Message]:
        for attempt in range(_READ_ATTEMPTS):
            items = await self._table.query_all(
                "pk = :p AND begins_with(sk, :m)",
                {":p": keys.messages(conversation_id), ":m": keys.MESSAGE_PREFIX},
            )
            try:
                return _assemble(conversation_id, items)
            except _Torn:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    async def append(
        self,
        user_id: str,
        conversation_id: str,
        *,
        parent_id: str | None,
        role: str,
        parts: Sequence[ContentPart],
        status: MessageStatus,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        client_msgid: str | None = None,
    ) -> Message | None:
        _check_role(role)
        conversation_key = keys.conversation(user_id, conversation_id)
        try:
            # Checks ownership (the key is the owner's) and takes the next number.
            counter = await self._table.update(
                *conversation_key,
                "ADD next_seq :one",
                values={":one": 1},
                condition="attribute_exists(pk)",
                returns="UPDATED_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return None
            raise
        now = time.time()
        message = Message(
            id=uuid.uuid4().hex,
            conversation_id=conversation_id,
            seq=int(counter["next_seq"]),
            role=role,
            parts=tuple(parts),
            status=status,
            created_at=now,
            updated_at=now,
            parent_id=parent_id,
            model=model,
            params=params,
            client_msgid=client_msgid,
        )
        main, chunks = _items(user_id, message, _new_rev())
        for chunk in chunks:
            await self._table.put(chunk)
        actions = []
        if parent_id is not None:
            pk = keys.messages(conversation_id)
            actions.append(self._table.check_action(pk, _sk(conversation_id, parent_id), _IS_MESSAGE, names=_ROLE))
        actions += [
            self._table.put_action(main, condition="attribute_not_exists(pk)"),
            self._table.update_action(
                *conversation_key,
                "SET updated_at = :now, gsi1sk = :recency, current_leaf_id = :leaf",
                values={":now": now, ":recency": keys.recency(now, conversation_id), ":leaf": message.id},
                condition="attribute_exists(pk)",
            ),
        ]
        try:
            await self._table.transact(actions)
        except ClientError as error:
            await self._table.delete_keys((chunk["pk"], chunk["sk"]) for chunk in chunks)
            if is_condition_failure(error):  # no such parent, or the conversation was deleted meanwhile
                return None
            raise
        await self._search.index_message(
            user_id, conversation_id, message.id, role=role, text=text_of(parts), status=status, at=now, was_final=False
        )
        return message

    async def update(
        self,
        user_id: str,
        conversation_id: str,
        message_id: str,
        *,
        parts: Sequence[ContentPart],
        status: MessageStatus,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> bool:
        seq = _legacy_seq(conversation_id, message_id)
        if seq is not None:
            return await self._update_legacy(
                user_id, conversation_id, seq, parts, status, finish_reason, prompt_tokens, completion_tokens
            )
        pk, sk = keys.messages(conversation_id), keys.message(message_id)
        rev = _new_rev()
        body = split_content(parts_to_json(parts))
        chunks = _chunk_items(pk, sk, message_id, rev, body)
        for chunk in chunks:
            await self._table.put(chunk)
        outcome, outcome_values = _outcome_fields(finish_reason, prompt_tokens, completion_tokens)
        now = time.time()
        try:
            old = await self._table.update(
                pk,
                sk,
                "SET body = :b, chunks = :n, rev = :rev, #status = :s, updated_at = :now" + outcome,
                values={
                    ":b": body[0],
                    ":n": len(body),
                    ":rev": rev,
                    ":s": status.value,
                    ":now": now,
                    ":u": user_id,
                    **outcome_values,
                },
                names={"#status": "status", **_ROLE},
                condition=f"user_id = :u AND {_IS_MESSAGE}",
                returns="ALL_OLD",  # UPDATED_OLD leaves out what a save did not change (the chunk count)
            )
        except ClientError as error:
            await self._table.delete_keys((chunk["pk"], chunk["sk"]) for chunk in chunks)
            if is_condition_failure(error):  # not the user's, or deleted with its conversation meanwhile
                return False
            raise
        if "rev" in old:
            stale = [(pk, keys.chunk(sk, old["rev"], n)) for n in range(1, int(old.get("chunks", 1)))]
            await self._table.delete_keys(stale)
        await self._reindex(user_id, conversation_id, message_id, old, parts, status, now)
        return True

    async def _update_legacy(
        self,
        user_id: str,
        conversation_id: str,
        seq: int,
        parts: Sequence[ContentPart],
        status: MessageStatus,
        finish_reason: str | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
    ) -> bool:
        if any(not isinstance(part, TextPart) for part in parts):
            raise InvalidInput("A message written before this version can only hold text.")
        if await self._conversation(user_id, conversation_id) is None:
            return False
        pk = keys.messages(conversation_id)
        pieces = split_content(text_of(parts))
        outcome, outcome_values = _outcome_fields(finish_reason, prompt_tokens, completion_tokens)
        now = time.time()
        try:
            old = await self._table.update(
                pk,
                keys.legacy_message(seq),
                "SET content = :c, parts = :n, #status = :s, updated_at = :now" + outcome,
                values={":c": pieces[0], ":n": len(pieces), ":s": status.value, ":now": now, **outcome_values},
                names={"#status": "status", **_ROLE},
                condition=_IS_MESSAGE,
                returns="ALL_OLD",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        for number, text in enumerate(pieces[1:], start=1):
            part = {"pk": pk, "sk": keys.legacy_part(seq, number), "seq": seq, "part": number, "content": text}
            await self._table.put(part)
        stale = range(len(pieces), int(old.get("parts", 1)))
        await self._table.delete_keys((pk, keys.legacy_part(seq, n)) for n in stale)
        message_id = f"{conversation_id}.{seq}"
        await self._reindex(user_id, conversation_id, message_id, old, parts, status, now)
        return True

    async def _reindex(
        self,
        user_id: str,
        conversation_id: str,
        message_id: str,
        old: dict[str, Any],
        parts: Sequence[ContentPart],
        status: MessageStatus,
        at: float,
    ) -> None:
        """Tell the search index a message was saved: ``old`` is the item as it was before the save."""
        await self._search.index_message(
            user_id,
            conversation_id,
            message_id,
            role=old["role"],
            text=text_of(parts),
            status=status,
            at=at,
            was_final=is_final(MessageStatus(old["status"])),
        )

    async def path(self, user_id: str, conversation_id: str, leaf_id: str | None = None) -> list[Message] | None:
        conversation = await self._conversation(user_id, conversation_id)
        if conversation is None:
            return None
        messages = await self._read(conversation_id)
        if leaf_id is None:
            return current_path(messages, conversation.get("current_leaf_id"))
        return path_to(messages, leaf_id)

    async def children(self, user_id: str, conversation_id: str, message_id: str | None) -> list[Message] | None:
        messages = await self.all_messages(user_id, conversation_id)
        return None if messages is None else [m for m in messages if m.parent_id == message_id]

    async def all_messages(self, user_id: str, conversation_id: str) -> list[Message] | None:
        if await self._conversation(user_id, conversation_id) is None:
            return None
        return await self._read(conversation_id)

    async def set_current_leaf(self, user_id: str, conversation_id: str, message_id: str) -> bool:
        pk = keys.messages(conversation_id)
        try:
            await self._table.transact(
                [
                    self._table.check_action(pk, _sk(conversation_id, message_id), _IS_MESSAGE, names=_ROLE),
                    self._table.update_action(
                        *keys.conversation(user_id, conversation_id),
                        "SET current_leaf_id = :leaf",
                        values={":leaf": message_id},
                        condition="attribute_exists(pk)",
                    ),
                ]
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    async def insert_many(self, user_id: str, conversation_id: str, messages: Sequence[Message]) -> bool:
        for message in messages:
            check_new_message(message)
            if _legacy_seq(conversation_id, message.id) is not None:
                raise Conflict("A message with this id is already in the conversation.")
        if await self._conversation(user_id, conversation_id) is None:
            return False
        taken = {m.id for m in await self._read(conversation_id)}
        for message in messages:
            if message.id in taken:
                raise Conflict("A message with this id is already in the conversation.")
            if message.parent_id is not None and message.parent_id not in taken:
                raise InvalidInput("A message's parent must be in the conversation, before it.")
            taken.add(message.id)
        if not messages:
            return True
        try:
            counter = await self._table.update(
                *keys.conversation(user_id, conversation_id),
                "ADD next_seq :n",
                values={":n": len(messages)},
                condition="attribute_exists(pk)",
                returns="UPDATED_NEW",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        first = int(counter["next_seq"]) - len(messages) + 1
        written: list[tuple[str, str]] = []
        try:
            for offset, message in enumerate(messages):
                placed = dataclasses.replace(message, conversation_id=conversation_id, seq=first + offset)
                main, chunks = _items(user_id, placed, _new_rev())
                for item in [*chunks, main]:
                    # Conditional, so a message another writer added meanwhile with the same id is never replaced.
                    await self._table.put(item, condition="attribute_not_exists(pk)")
                    written.append((item["pk"], item["sk"]))
        except BaseException as error:
            # All or none: what was written is taken back.
            await asyncio.shield(self._table.delete_keys(written))
            if isinstance(error, ClientError) and is_condition_failure(error):
                raise Conflict("A message with this id is already in the conversation.") from None
            raise
        for message in messages:
            await self._search.index_message(
                user_id,
                conversation_id,
                message.id,
                role=message.role,
                text=message.content,
                status=message.status,
                at=message.updated_at,
                was_final=False,
            )
        return True
