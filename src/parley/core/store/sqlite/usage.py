"""Usage records, monthly counters and budgets in SQLite. Each call is one ``BEGIN IMMEDIATE`` transaction on the
database's one thread, so a reservation's check and its increment cannot interleave with another's, and a hold is
written, settled or reclaimed with the counter it changes."""

from __future__ import annotations

import sqlite3
import time

from parley.core.store.base import RECLAIMED_HOLD_KEPT_SECONDS, DailyUsage, UsageHold, UsageRecord
from parley.core.store.sqlite.database import Database
from parley.core.usage.months import day_key


class SqliteUsageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def reserve(self, user_id: str, month: str, tokens: int, hold: UsageHold | None = None) -> int | None:
        def reserve(conn: sqlite3.Connection) -> int | None:
            if hold is not None:
                _reclaim(conn, user_id, hold.started_at)
            budget = _budget(conn, user_id)
            if budget is not None and _used(conn, user_id, month) >= budget:
                return budget
            _add(conn, user_id, month, tokens)
            if hold is not None:
                conn.execute(
                    "INSERT INTO usage_holds (user_id, id, month, tokens, started_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (user_id, hold.id, month, tokens, hold.started_at, hold.expires_at),
                )
            return None

        return await self._db.run(reserve)

    async def settle(self, record: UsageRecord, month: str, reserved: int, hold_id: str | None = None) -> None:
        def settle(conn: sqlite3.Connection) -> None:
            held = reserved  # what the counter still holds for the answer
            if hold_id is not None:
                deleted = conn.execute(
                    "DELETE FROM usage_holds WHERE user_id = ? AND id = ? RETURNING reclaimed",
                    (record.user_id, hold_id),
                ).fetchall()
                if not deleted:
                    return  # settled already
                if deleted[0][0]:
                    held = 0  # reclaimed: given back already
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
            _add(conn, record.user_id, month, record.total_tokens - held)

        await self._db.run(settle)

    async def reclaim_expired(self, user_id: str, now: float) -> int:
        return await self._db.run(lambda conn: _reclaim(conn, user_id, now))

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


def _reclaim(conn: sqlite3.Connection, user_id: str, now: float) -> int:
    """Give back the user's expired holds (in the caller's transaction) and forget reclaimed ones kept long enough."""
    conn.execute(
        "DELETE FROM usage_holds WHERE user_id = ? AND reclaimed = 1 AND expires_at < ?",
        (user_id, now - RECLAIMED_HOLD_KEPT_SECONDS),
    )
    rows = conn.execute(
        "UPDATE usage_holds SET reclaimed = 1 WHERE user_id = ? AND reclaimed = 0 AND expires_at <= ?"
        " RETURNING month, tokens",
        (user_id, now),
    ).fetchall()
    for month, tokens in rows:
        _add(conn, user_id, month, -int(tokens))
    return sum(int(tokens) for _, tokens in rows)
