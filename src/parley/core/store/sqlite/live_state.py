"""WebSocket connections, stop signals and answer slots: short-lived state, expired by time."""

from __future__ import annotations

import sqlite3
import time

from parley.core.store.base import MAX_FOLLOWERS, LiveSignals, Registration, SessionRef
from parley.core.store.sqlite.database import Database


class SqliteConnectionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_connection(self, connection_id: str, session: SessionRef, expires_at: float) -> None:
        def put(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM ws_connections WHERE expires_at < ?", (time.time(),))
            conn.execute(
                "INSERT OR REPLACE INTO ws_connections (connection_id, user_id, jti, token_version, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (connection_id, session.user_id, session.jti, session.token_version, expires_at),
            )

        await self._db.run(put)

    async def get_connection(self, connection_id: str) -> SessionRef | None:
        row = await self._db.run(
            lambda conn: conn.execute(
                "SELECT user_id, jti, token_version FROM ws_connections WHERE connection_id = ? AND expires_at >= ?",
                (connection_id, time.time()),
            ).fetchone()
        )
        if row is None or row["jti"] is None or row["token_version"] is None:
            return None
        return SessionRef(user_id=str(row["user_id"]), jti=str(row["jti"]), token_version=int(row["token_version"]))

    async def delete_connection(self, connection_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute("DELETE FROM ws_connections WHERE connection_id = ?", (connection_id,))
        )

    async def user_connections(self, user_id: str, *, jti: str | None = None) -> list[str]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                "SELECT connection_id FROM ws_connections"
                " WHERE user_id = ? AND expires_at >= ? AND (? IS NULL OR jti = ?)",
                (user_id, time.time(), jti, jti),
            ).fetchall()
        )
        return [str(row["connection_id"]) for row in rows]


class SqliteStopSignalStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def register_generation(
        self, user_id: str, msgid: str, expires_at: float, *, max_running: int, lease_until: float
    ) -> Registration:
        # One transaction on the one database thread: counting and inserting cannot interleave.
        def put(conn: sqlite3.Connection) -> Registration:
            now = time.time()
            conn.execute("DELETE FROM generations WHERE expires_at < ?", (now,))
            taken = conn.execute(
                "SELECT 1 FROM generations WHERE user_id = ? AND msgid = ?", (user_id, msgid)
            ).fetchone()
            if taken:
                return Registration.DUPLICATE
            (running,) = conn.execute(
                "SELECT COUNT(*) FROM generations WHERE user_id = ? AND finished = 0 AND lease_until >= ?",
                (user_id, now),
            ).fetchone()
            if running >= max_running:
                return Registration.AT_CAPACITY
            conn.execute(
                "INSERT INTO generations (user_id, msgid, stop_requested, finished, expires_at, lease_until)"
                " VALUES (?, ?, 0, 0, ?, ?)",
                (user_id, msgid, expires_at, lease_until),
            )
            return Registration.STARTED

        return await self._db.run(put)

    async def request_stop(self, user_id: str, msgid: str) -> bool:
        cursor = await self._db.run(
            lambda conn: conn.execute(
                "UPDATE generations SET stop_requested = 1 WHERE user_id = ? AND msgid = ? AND finished = 0",
                (user_id, msgid),
            )
        )
        return cursor.rowcount > 0

    async def stop_requested(self, user_id: str, msgid: str) -> bool:
        row = await self._db.run(
            lambda conn: conn.execute(
                "SELECT stop_requested FROM generations WHERE user_id = ? AND msgid = ?", (user_id, msgid)
            ).fetchone()
        )
        return bool(row and row["stop_requested"])

    async def follow(self, user_id: str, msgid: str, connection_id: str, after_seq: int) -> bool:
        # One transaction on the one database thread: the answer cannot finish between the check and the insert.
        def put(conn: sqlite3.Connection) -> bool:
            running = conn.execute(
                "SELECT 1 FROM generations WHERE user_id = ? AND msgid = ? AND finished = 0 AND expires_at >= ?",
                (user_id, msgid, time.time()),
            ).fetchone()
            if not running:
                return False
            (followers,) = conn.execute(
                "SELECT COUNT(*) FROM generation_followers WHERE user_id = ? AND msgid = ? AND connection_id != ?",
                (user_id, msgid, connection_id),
            ).fetchone()
            if followers >= MAX_FOLLOWERS:
                return False
            conn.execute(
                "INSERT INTO generation_followers (user_id, msgid, connection_id, after_seq) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (user_id, msgid, connection_id) DO UPDATE SET after_seq = excluded.after_seq",
                (user_id, msgid, connection_id, after_seq),
            )
            return True

        return await self._db.run(put)

    async def signals(self, user_id: str, msgid: str) -> LiveSignals:
        def read(conn: sqlite3.Connection) -> LiveSignals:
            row = conn.execute(
                "SELECT stop_requested FROM generations WHERE user_id = ? AND msgid = ?", (user_id, msgid)
            ).fetchone()
            if row is None:
                return LiveSignals()
            followers = conn.execute(
                "SELECT connection_id, after_seq FROM generation_followers WHERE user_id = ? AND msgid = ?",
                (user_id, msgid),
            ).fetchall()
            return LiveSignals(
                stop_requested=bool(row["stop_requested"]),
                followers={str(f["connection_id"]): int(f["after_seq"]) for f in followers},
            )

        return await self._db.run(read)

    async def finish_generation(self, user_id: str, msgid: str) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE generations SET finished = 1 WHERE user_id = ? AND msgid = ?", (user_id, msgid)
            )
        )
