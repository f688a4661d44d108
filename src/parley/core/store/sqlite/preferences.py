"""Per-user preferences, one JSON document a user."""

from __future__ import annotations

import json
import time
from typing import Any

from parley.core.store.sqlite.database import Database


class SqlitePreferencesStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_preferences(self, user_id: str) -> dict[str, Any] | None:
        row = await self._db.run(
            lambda conn: conn.execute("SELECT data FROM user_preferences WHERE user_id = ?", (user_id,)).fetchone()
        )
        if row is None:
            return None
        data: dict[str, Any] = json.loads(row["data"])
        return data

    async def put_preferences(self, user_id: str, preferences: dict[str, Any]) -> None:
        data = json.dumps(preferences, separators=(",", ":"))
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO user_preferences (user_id, data, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                (user_id, data, time.time()),
            )
        )
