"""Users, and the auth state that lives beside them: revoked tokens, WebSocket tickets, login throttling."""

from __future__ import annotations

import sqlite3
import time

from parley.core.store.base import SessionRef, User, new_user
from parley.core.store.sqlite.database import Database
from parley.errors import Conflict


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        is_admin=bool(row["is_admin"]),
        disabled=bool(row["disabled"]),
        token_version=row["token_version"],
        created_at=row["created_at"],
        pending=bool(row["pending"]),
        email=row["email"],
    )


def insert_user(conn: sqlite3.Connection, user: User) -> None:
    """Insert ``user``; Conflict when its name is taken."""
    try:
        conn.execute(
            "INSERT INTO users (id, username, password_hash, is_admin, disabled, token_version, created_at, pending,"
            " email) VALUES (?, ?, ?, ?, 0, 0, ?, ?, ?)",
            (
                user.id,
                user.username,
                user.password_hash,
                int(user.is_admin),
                user.created_at,
                int(user.pending),
                user.email,
            ),
        )
    except sqlite3.IntegrityError:
        raise Conflict(f"The username {user.username!r} is taken.") from None


class SqliteUserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_user(
        self,
        username: str,
        password_hash: str,
        *,
        is_admin: bool = False,
        pending: bool = False,
        email: str | None = None,
    ) -> User:
        user = new_user(username, password_hash, is_admin=is_admin, pending=pending, email=email)
        await self._db.run(lambda conn: insert_user(conn, user))
        return user

    async def get_user_by_name(self, username: str) -> User | None:
        return await self._one("SELECT * FROM users WHERE username = ?", username)

    async def get_user(self, user_id: str) -> User | None:
        return await self._one("SELECT * FROM users WHERE id = ?", user_id)

    async def _one(self, sql: str, arg: str) -> User | None:
        row = await self._db.read(lambda conn: conn.execute(sql, (arg,)).fetchone())
        return _user(row) if row else None

    async def list_users(self) -> list[User]:
        rows = await self._db.run(lambda conn: conn.execute("SELECT * FROM users ORDER BY username").fetchall())
        return [_user(row) for row in rows]

    async def count_users(self) -> int:
        return int(await self._db.run(lambda conn: conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]))

    async def set_password_hash(self, user_id: str, password_hash: str, *, revoke_tokens: bool) -> None:
        bump = 1 if revoke_tokens else 0
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE users SET password_hash = ?, token_version = token_version + ? WHERE id = ?",
                (password_hash, bump, user_id),
            )
        )

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE users SET disabled = ?, token_version = token_version + 1 WHERE id = ?",
                (int(disabled), user_id),
            )
        )

    async def delete_user(self, user_id: str) -> bool:
        cursor = await self._db.run(lambda conn: conn.execute("DELETE FROM users WHERE id = ?", (user_id,)))
        return cursor.rowcount > 0

    async def approve_user(self, user_id: str) -> bool:
        cursor = await self._db.run(
            lambda conn: conn.execute("UPDATE users SET pending = 0 WHERE id = ? AND pending = 1", (user_id,))
        )
        return cursor.rowcount > 0


class SqliteTokenRevocationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def revoke(self, jti: str, expires_at: float, *, user_id: str) -> None:
        # The user id is not kept: this server closes a session's sockets itself, without looking them up.
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM revoked_tokens WHERE expires_at < ?", (time.time(),))
            conn.execute("INSERT OR REPLACE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)", (jti, expires_at))

        await self._db.run(insert)

    async def is_revoked(self, jti: str) -> bool:
        row = await self._db.read(
            lambda conn: conn.execute("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)).fetchone()
        )
        return row is not None


class SqliteTicketStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_ticket(self, ticket_hash: str, session: SessionRef, expires_at: float) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM ws_tickets WHERE expires_at < ?", (time.time(),))
            conn.execute(
                "INSERT INTO ws_tickets (ticket_hash, user_id, jti, token_version, expires_at) VALUES (?, ?, ?, ?, ?)",
                (ticket_hash, session.user_id, session.jti, session.token_version, expires_at),
            )

        await self._db.run(insert)

    async def take_ticket(self, ticket_hash: str, now: float) -> SessionRef | None:
        row = await self._db.run(
            lambda conn: conn.execute(
                "DELETE FROM ws_tickets WHERE ticket_hash = ? RETURNING user_id, jti, token_version, expires_at",
                (ticket_hash,),
            ).fetchone()
        )
        if row is None or row["expires_at"] < now or row["jti"] is None:
            return None
        return SessionRef(user_id=str(row["user_id"]), jti=str(row["jti"]), token_version=int(row["token_version"]))


class SqliteThrottleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def hit(self, key: str, now: float, window_seconds: float) -> tuple[int, float]:
        # One statement in one transaction on the writer thread: concurrent attempts each get their own count.
        def count(conn: sqlite3.Connection) -> tuple[int, float]:
            # Windows that ended long ago only take space (one row per address that ever failed).
            conn.execute("DELETE FROM login_throttle WHERE window_ends < ?", (now - window_seconds,))
            row = conn.execute(
                "INSERT INTO login_throttle (key, failures, window_ends) VALUES (?, 1, ?)"
                " ON CONFLICT (key) DO UPDATE SET"
                "  failures = CASE WHEN window_ends <= ? THEN 1 ELSE failures + 1 END,"
                "  window_ends = CASE WHEN window_ends <= ? THEN excluded.window_ends ELSE window_ends END"
                " RETURNING failures, window_ends",
                (key, now + window_seconds, now, now),
            ).fetchone()
            return int(row["failures"]), float(row["window_ends"])

        return await self._db.run(count)

    async def refund(self, key: str, now: float) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE login_throttle SET failures = failures - 1 WHERE key = ? AND window_ends > ? AND failures > 0",
                (key, now),
            )
        )

    async def clear(self, key: str) -> None:
        await self._db.run(lambda conn: conn.execute("DELETE FROM login_throttle WHERE key = ?", (key,)))
