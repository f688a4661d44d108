"""API keys in SQLite: one row per key, found by its hash."""

from __future__ import annotations

import sqlite3

from parley.core.store.base import ApiKey
from parley.core.store.sqlite.database import Database
from parley.errors import Conflict


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked=bool(row["revoked"]),
        save_conversations=bool(row["save_conversations"]),
    )


class SqliteApiKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_key(self, key: ApiKey) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, created_at, expires_at, revoked,"
                    " save_conversations) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                    (
                        key.id,
                        key.user_id,
                        key.name,
                        key.prefix,
                        key.key_hash,
                        key.created_at,
                        key.expires_at,
                        int(key.save_conversations),
                    ),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"You already have a key named {key.name!r}.") from None

        await self._db.run(insert)

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        row = await self._db.run(
            lambda conn: conn.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
        )
        return _key(row) if row else None

    async def list_keys(self, user_id: str) -> list[ApiKey]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at, id", (user_id,)
            ).fetchall()
        )
        return [_key(row) for row in rows]

    async def revoke_key(self, user_id: str, key_id: str) -> ApiKey | None:
        row = await self._db.run(
            lambda conn: conn.execute(
                "UPDATE api_keys SET revoked = 1 WHERE id = ? AND user_id = ? AND revoked = 0 RETURNING *",
                (key_id, user_id),
            ).fetchone()
        )
        return _key(row) if row else None

    async def touch_key(self, key: ApiKey, used_at: float, *, unless_since: float) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                (used_at, key.id, unless_since),
            )
        )
