"""Attached files' records on SQLite (their bytes are blobs: ``core/files/local_blobs.py``)."""

from __future__ import annotations

import sqlite3

from parley.core.files.base import FileKind, FileStatus, StoredFile
from parley.core.files.records import new_file
from parley.core.store.sqlite.database import Database

_COLUMNS = (
    "id, user_id, name, size, status, media_type, kind, error, text_chars, passages, width, height, text_truncated,"
    " created_at, updated_at"
)


def _file(row: sqlite3.Row) -> StoredFile:
    return StoredFile(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        size=row["size"],
        status=FileStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        media_type=row["media_type"],
        kind=FileKind(row["kind"]) if row["kind"] else None,
        error=row["error"],
        text_chars=row["text_chars"],
        passages=row["passages"],
        width=row["width"],
        height=row["height"],
        text_truncated=bool(row["text_truncated"]),
    )


class SqliteFileStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_file(self, user_id: str, name: str, size: int, *, now: float | None = None) -> StoredFile:
        file = new_file(user_id, name, size, now)
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO files (id, user_id, name, size, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (file.id, user_id, name, size, file.status.value, file.created_at, file.updated_at),
            )
        )
        return file

    async def get_file(self, user_id: str, file_id: str) -> StoredFile | None:
        row = await self._db.run(
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE id = ? AND user_id = ?",  # noqa: S608
                (file_id, user_id),
            ).fetchone()
        )
        return _file(row) if row else None

    async def list_files(self, user_id: str) -> list[StoredFile]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM files WHERE user_id = ? ORDER BY created_at DESC, id DESC",  # noqa: S608
                (user_id,),
            ).fetchall()
        )
        return [_file(row) for row in rows]

    async def save_file(self, file: StoredFile) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE files SET size = ?, status = ?, media_type = ?, kind = ?, error = ?, text_chars = ?,"
                " passages = ?, width = ?, height = ?, text_truncated = ?, updated_at = ? WHERE id = ? AND user_id = ?",
                (
                    file.size,
                    file.status.value,
                    file.media_type,
                    file.kind.value if file.kind else None,
                    file.error,
                    file.text_chars,
                    file.passages,
                    file.width,
                    file.height,
                    int(file.text_truncated),
                    file.updated_at,
                    file.id,
                    file.user_id,
                ),
            )
        )

    async def delete_file(self, user_id: str, file_id: str) -> bool:
        cursor = await self._db.run(
            lambda conn: conn.execute("DELETE FROM files WHERE id = ? AND user_id = ?", (file_id, user_id))
        )
        return cursor.rowcount > 0
