"""The first-run setup code on SQLite: one row holding its hash, spent in the transaction that creates the admin."""

from __future__ import annotations

import sqlite3
import time

from parley.core.store.base import User, new_user
from parley.core.store.sqlite.database import Database
from parley.core.store.sqlite.users import insert_user


class SqliteSetupCodeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_setup_code(self, code_hash: str) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO setup_code (id, code_hash, created_at) VALUES (1, ?, ?)",
                (code_hash, time.time()),
            )
        )

    async def setup_code_matches(self, code_hash: str) -> bool:
        row = await self._db.run(
            lambda conn: conn.execute("SELECT 1 FROM setup_code WHERE code_hash = ?", (code_hash,)).fetchone()
        )
        return row is not None

    async def create_first_admin(self, code_hash: str, username: str, password_hash: str) -> User | None:
        user = new_user(username, password_hash, is_admin=True)

        # One transaction on the writer thread: the code is spent and the user written, or neither.
        def create(conn: sqlite3.Connection) -> User | None:
            if conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:
                return None
            if conn.execute("DELETE FROM setup_code WHERE code_hash = ?", (code_hash,)).rowcount == 0:
                return None
            insert_user(conn, user)
            return user

        return await self._db.run(create)
