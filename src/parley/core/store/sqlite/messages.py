"""The message log on SQLite: one row per message, each naming its parent. Every query is scoped to the owner."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from typing import Any

from parley.core.store.base import ROLES, Message, MessageStatus, check_new_message
from parley.core.store.parts import ContentPart, parts_from_json, parts_to_json
from parley.core.store.sqlite.conversations import owned
from parley.core.store.sqlite.database import Database
from parley.errors import Conflict, InvalidInput

_COLUMNS = (
    "conversation_id, id, parent_id, seq, role, parts, status, model, params, finish_reason, prompt_tokens,"
    " completion_tokens, client_msgid, created_at, updated_at"
)
_INSERT = f"INSERT INTO messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608

# Root to leaf by walking up the parents, each step one primary-key lookup. The depth bound only guards
# against a damaged row pointing in a circle.
_PATH = """
WITH RECURSIVE branch(id, depth) AS (
    SELECT id, 0 FROM messages WHERE conversation_id = :c AND id = :leaf
    UNION ALL
    SELECT m.parent_id, branch.depth + 1 FROM branch JOIN messages m ON m.conversation_id = :c AND m.id = branch.id
    WHERE m.parent_id IS NOT NULL AND branch.depth < 1000000
)
SELECT messages.* FROM branch JOIN messages ON messages.conversation_id = :c AND messages.id = branch.id
ORDER BY branch.depth DESC
"""


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        role=row["role"],
        parts=parts_from_json(row["parts"]),
        status=MessageStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        parent_id=row["parent_id"],
        model=row["model"],
        params=json.loads(row["params"]) if row["params"] is not None else None,
        finish_reason=row["finish_reason"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        client_msgid=row["client_msgid"],
    )


def _row(message: Message, conversation_id: str, seq: int) -> tuple[Any, ...]:
    return (
        conversation_id,
        message.id,
        message.parent_id,
        seq,
        message.role,
        parts_to_json(message.parts),
        message.status.value,
        message.model,
        json.dumps(message.params) if message.params is not None else None,
        message.finish_reason,
        message.prompt_tokens,
        message.completion_tokens,
        message.client_msgid,
        message.created_at,
        message.updated_at,
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"A message's role is one of {', '.join(sorted(ROLES))}.")


def _exists(conn: sqlite3.Connection, conversation_id: str, message_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM messages WHERE conversation_id = ? AND id = ?", (conversation_id, message_id)
    ).fetchone()
    return row is not None


def _next_seq(conn: sqlite3.Connection, conversation_id: str) -> int:
    row = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = ?", (conversation_id,))
    return int(row.fetchone()[0])


class SqliteMessageLog:
    def __init__(self, db: Database) -> None:
        self._db = db

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

        def append(conn: sqlite3.Connection) -> Message | None:
            if owned(conn, user_id, conversation_id) is None:
                return None
            if parent_id is not None and not _exists(conn, conversation_id, parent_id):
                return None
            now = time.time()
            message = Message(
                id=uuid.uuid4().hex,
                conversation_id=conversation_id,
                seq=_next_seq(conn, conversation_id),
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
            conn.execute(_INSERT, _row(message, conversation_id, message.seq))
            conn.execute(
                "UPDATE conversations SET updated_at = ?, current_leaf_id = ? WHERE id = ?",
                (now, message.id, conversation_id),
            )
            return message

        return await self._db.run(append)

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
        cursor = await self._db.run(
            lambda conn: conn.execute(
                "UPDATE messages SET parts = ?, status = ?, finish_reason = COALESCE(?, finish_reason),"
                " prompt_tokens = COALESCE(?, prompt_tokens), completion_tokens = COALESCE(?, completion_tokens),"
                " updated_at = ? WHERE conversation_id = ? AND id = ?"
                " AND EXISTS (SELECT 1 FROM conversations WHERE id = ? AND user_id = ?)",
                (
                    parts_to_json(parts),
                    status.value,
                    finish_reason,
                    prompt_tokens,
                    completion_tokens,
                    time.time(),
                    conversation_id,
                    message_id,
                    conversation_id,
                    user_id,
                ),
            )
        )
        return cursor.rowcount > 0

    async def path(self, user_id: str, conversation_id: str, leaf_id: str | None = None) -> list[Message] | None:
        def select(conn: sqlite3.Connection) -> list[sqlite3.Row] | None:
            conversation = owned(conn, user_id, conversation_id)
            if conversation is None:
                return None
            leaf = leaf_id
            if leaf is None:
                leaf = conversation["current_leaf_id"]
                if leaf is None or not _exists(conn, conversation_id, leaf):
                    newest = conn.execute(
                        "SELECT id FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1",
                        (conversation_id,),
                    ).fetchone()
                    if newest is None:
                        return []
                    leaf = newest["id"]
            rows = conn.execute(_PATH, {"c": conversation_id, "leaf": leaf}).fetchall()
            return rows or None

        rows = await self._db.read(select)
        return None if rows is None else [_message(row) for row in rows]

    async def children(self, user_id: str, conversation_id: str, message_id: str | None) -> list[Message] | None:
        def select(conn: sqlite3.Connection) -> list[sqlite3.Row] | None:
            if owned(conn, user_id, conversation_id) is None:
                return None
            return conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND parent_id IS ? ORDER BY seq",
                (conversation_id, message_id),
            ).fetchall()

        rows = await self._db.read(select)
        return None if rows is None else [_message(row) for row in rows]

    async def all_messages(self, user_id: str, conversation_id: str) -> list[Message] | None:
        def select(conn: sqlite3.Connection) -> list[sqlite3.Row] | None:
            if owned(conn, user_id, conversation_id) is None:
                return None
            return conn.execute(
                "SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
            ).fetchall()

        rows = await self._db.read(select)
        return None if rows is None else [_message(row) for row in rows]

    async def set_current_leaf(self, user_id: str, conversation_id: str, message_id: str) -> bool:
        def move(conn: sqlite3.Connection) -> bool:
            if owned(conn, user_id, conversation_id) is None or not _exists(conn, conversation_id, message_id):
                return False
            conn.execute("UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (message_id, conversation_id))
            return True

        return await self._db.run(move)

    async def insert_many(self, user_id: str, conversation_id: str, messages: Sequence[Message]) -> bool:
        for message in messages:
            check_new_message(message)

        # One transaction: a refusal half-way rolls back every row written before it.
        def insert(conn: sqlite3.Connection) -> bool:
            if owned(conn, user_id, conversation_id) is None:
                return False
            seq = _next_seq(conn, conversation_id)
            added: set[str] = set()
            for message in messages:
                if message.id in added or _exists(conn, conversation_id, message.id):
                    raise Conflict("A message with this id is already in the conversation.")
                parent = message.parent_id
                if parent is not None and parent not in added and not _exists(conn, conversation_id, parent):
                    raise InvalidInput("A message's parent must be in the conversation, before it.")
                conn.execute(_INSERT, _row(message, conversation_id, seq))
                added.add(message.id)
                seq += 1
            return True

        return await self._db.run(insert)
