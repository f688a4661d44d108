"""Conversations (their messages are in ``messages.py``). Every query is scoped to the owner."""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import time
import uuid

from parley.core.store.base import Conversation, ConversationPage
from parley.core.store.sqlite.database import Database
from parley.errors import InvalidInput

_CONVERSATION_COLUMNS = "id, user_id, title, model, created_at, updated_at, current_leaf_id"


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        model=row["model"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        current_leaf_id=row["current_leaf_id"],
    )


def encode_cursor(updated_at: float, conversation_id: str) -> str:
    raw = json.dumps([updated_at, conversation_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, conversation_id = json.loads(raw)
        return float(updated_at), str(conversation_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput("The cursor is not valid.") from None


class SqliteConversationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

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
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO conversations (id, user_id, title, model, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation.id, user_id, title, model, conversation.created_at, conversation.updated_at),
            )
        )
        return conversation

    async def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None:
        row = await self._db.read(lambda conn: owned(conn, user_id, conversation_id))
        return _conversation(row) if row else None

    async def list_conversations(
        self, user_id: str, limit: int, cursor: str | None, *, title_contains: str | None = None
    ) -> ConversationPage:
        where = ["user_id = ?"]
        args: list[object] = [user_id]
        if cursor:
            updated_at, last_id = decode_cursor(cursor)
            where.append("(updated_at < ? OR (updated_at = ? AND id < ?))")
            args += [updated_at, updated_at, last_id]
        if title_contains:
            where.append("title LIKE ? ESCAPE '\\'")
            args.append("%" + _escape_like(title_contains) + "%")
        sql = (
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY updated_at DESC, id DESC LIMIT ?"
        )
        args.append(limit + 1)

        def page(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute(sql, args).fetchall()

        rows = await self._db.read(page)
        items = [_conversation(row) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1].updated_at, items[-1].id) if len(rows) > limit else None
        return ConversationPage(items=items, next_cursor=next_cursor)

    async def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> Conversation | None:
        def rename(conn: sqlite3.Connection) -> sqlite3.Row | None:
            conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND user_id = ?",
                (title, conversation_id, user_id),
            )
            return owned(conn, user_id, conversation_id)

        row = await self._db.run(rename)
        return _conversation(row) if row else None

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool:
        cursor = await self._db.run(
            lambda conn: conn.execute(
                "DELETE FROM conversations WHERE id = ? AND user_id = ?", (conversation_id, user_id)
            )
        )
        return cursor.rowcount > 0


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def owned(conn: sqlite3.Connection, user_id: str, conversation_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ? AND user_id = ?",  # noqa: S608
        (conversation_id, user_id),
    ).fetchone()
    return row
