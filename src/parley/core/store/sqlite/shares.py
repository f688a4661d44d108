"""Shares (public snapshots of conversations). Looked up by the token's hash; listed and revoked by their owner."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from parley.core.store.base import Share, SharedMessage, SharedSnapshot
from parley.core.store.snapshots import messages_from_json, messages_to_json
from parley.core.store.sqlite.conversations import owned
from parley.core.store.sqlite.database import Database


def _share(row: sqlite3.Row) -> Share:
    return Share(
        id=row["id"],
        user_id=row["user_id"],
        conversation_id=row["conversation_id"],
        title=row["title"],
        created_at=row["created_at"],
    )


class SqliteShareStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_share(self, share: Share, token_hash: str, messages: Sequence[SharedMessage]) -> bool:
        def create(conn: sqlite3.Connection) -> bool:
            if owned(conn, share.user_id, share.conversation_id) is None:
                return False
            body = messages_to_json(messages)  # on the database thread: a long conversation is a big document
            conn.execute(
                "INSERT INTO shares (id, token_hash, user_id, conversation_id, title, messages, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (share.id, token_hash, share.user_id, share.conversation_id, share.title, body, share.created_at),
            )
            return True

        return await self._db.run(create)

    async def list_shares(self, user_id: str) -> list[Share]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT id, user_id, conversation_id, title, created_at FROM shares WHERE user_id = ?"
                " ORDER BY created_at DESC, id DESC",
                (user_id,),
            ).fetchall()
        )
        return [_share(row) for row in rows]

    async def delete_share(self, user_id: str, share_id: str) -> bool:
        cursor = await self._db.run(
            lambda conn: conn.execute("DELETE FROM shares WHERE id = ? AND user_id = ?", (share_id, user_id))
        )
        return cursor.rowcount > 0

    async def get_snapshot(self, token_hash: str) -> SharedSnapshot | None:
        def read(conn: sqlite3.Connection) -> SharedSnapshot | None:
            row = conn.execute(
                "SELECT title, messages, created_at FROM shares WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            if row is None:
                return None
            return SharedSnapshot(
                title=row["title"], messages=messages_from_json(row["messages"]), created_at=row["created_at"]
            )

        return await self._db.run(read)
