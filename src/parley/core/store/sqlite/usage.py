"""Usage records, monthly counters and budgets in SQLite. Each call is one ``BEGIN IMMEDIATE`` transaction on the
database's one thread, so a reservation's check and its increment cannot interleave with another's."""

from __future__ import annotations

import sqlite3
import time

from parley.core.store.base import DailyUsage, UsageRecord
from parley.core.store.sqlite.database import Database
from parley.core.usage.months import day_key


class SqliteUsageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve(self, user_id: str, month: str, tokens: int) -> int | None:
        def reserve(conn: sqlite3.Connection) -> int | None:
            budget = _budget(conn, user_id)
            if budget is not None and _used(conn, user_id, month) >= budget:
                return budget
            _add(conn, user_id, month, tokens)
            return None

        return await self._db.run(reserve)

    async def settle(self, record: UsageRecord, month: str, reserved: int) -> None:
        def settle(conn: sqlite3.Connection) -> None:
            if record.total_tokens:
                conn.execute(
                    "INSERT INTO usage_records (user_id, key_id, model, prompt_tokens, completion_tokens, estimated,"
                    " source, day, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.user_id,
                        record.key_id,
                        record.model,
                        record.prompt_tokens,
                        record.completion_tokens,
                        int(record.estimated),
                        record.source,
                        day_key(record.created_at),
                        record.created_at,
                    ),
                )
            _add(conn, record.user_id, month, record.total_tokens - reserved)

        await self._db.run(settle)

    async def month_used(self, user_id: str, month: str) -> int:
        return await self._db.run(lambda conn: _used(conn, user_id, month))

    async def daily(self, user_id: str, first_day: str, last_day: str) -> list[DailyUsage]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT day, model, SUM(prompt_tokens) AS prompt, SUM(completion_tokens) AS completion,"
                " COUNT(*) AS requests FROM usage_records WHERE user_id = ? AND day BETWEEN ? AND ?"
                " GROUP BY day, model ORDER BY day, model",
                (user_id, first_day, last_day),
            ).fetchall()
        )
        return [DailyUsage(r["day"], r["model"], r["prompt"], r["completion"], r["requests"]) for r in rows]

    async def get_budget(self, user_id: str) -> int | None:
        return await self._db.run(lambda conn: _budget(conn, user_id))

    async def set_budget(self, user_id: str, monthly_tokens: int) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO usage_budgets (user_id, monthly_tokens, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET monthly_tokens = excluded.monthly_tokens,"
                " updated_at = excluded.updated_at",
                (user_id, monthly_tokens, time.time()),
            )
        )

    async def clear_budget(self, user_id: str) -> bool:
        cursor = await self._db.run(
            lambda conn: conn.execute("DELETE FROM usage_budgets WHERE user_id = ?", (user_id,))
        )
        return cursor.rowcount > 0


def _budget(conn: sqlite3.Connection, user_id: str) -> int | None:
    row = conn.execute("SELECT monthly_tokens FROM usage_budgets WHERE user_id = ?", (user_id,)).fetchone()
    return None if row is None else int(row[0])


def _used(conn: sqlite3.Connection, user_id: str, month: str) -> int:
    row = conn.execute("SELECT used FROM usage_months WHERE user_id = ? AND month = ?", (user_id, month)).fetchone()
    return 0 if row is None else int(row[0])


def _add(conn: sqlite3.Connection, user_id: str, month: str, tokens: int) -> None:
    conn.execute(
        "INSERT INTO usage_months (user_id, month, used) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, month) DO UPDATE SET used = used + excluded.used",
        (user_id, month, tokens),
    )
