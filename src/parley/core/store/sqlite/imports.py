"""Imports on SQLite: which conversations of other apps a user has imported, and the user's import jobs."""

from __future__ import annotations

import sqlite3
import time

from parley.core.store.base import ImportJob, ImportStatus
from parley.core.store.import_jobs import new_job, skipped_from_json, skipped_to_json
from parley.core.store.sqlite.database import Database

_JOB_COLUMNS = (
    "id, user_id, file_name, status, created_at, updated_at, bytes_total, bytes_read, conversations_imported,"
    " duplicates, skipped, error"
)


def _job(row: sqlite3.Row) -> ImportJob:
    return ImportJob(
        id=row["id"],
        user_id=row["user_id"],
        file_name=row["file_name"],
        status=ImportStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        bytes_total=row["bytes_total"],
        bytes_read=row["bytes_read"],
        conversations_imported=row["conversations_imported"],
        duplicates=row["duplicates"],
        skipped=skipped_from_json(row["skipped"]),
        error=row["error"],
    )


class SqliteImportRecordStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def imported_as(self, user_id: str, source: str, source_id: str) -> str | None:
        row = await self._db.run(
            lambda conn: conn.execute(
                "SELECT conversation_id FROM imported_conversations WHERE user_id = ? AND source = ? AND source_id = ?",
                (user_id, source, source_id),
            ).fetchone()
        )
        return str(row["conversation_id"]) if row else None

    async def record_import(self, user_id: str, source: str, source_id: str, conversation_id: str) -> bool:
        cursor = await self._db.run(
            lambda conn: conn.execute(
                "INSERT OR IGNORE INTO imported_conversations"
                " (user_id, source, source_id, conversation_id, imported_at) VALUES (?, ?, ?, ?, ?)",
                (user_id, source, source_id, conversation_id, time.time()),
            )
        )
        return cursor.rowcount > 0

    async def forget_import(self, user_id: str, source: str, source_id: str) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "DELETE FROM imported_conversations WHERE user_id = ? AND source = ? AND source_id = ?",
                (user_id, source, source_id),
            )
        )


class SqliteImportJobStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_job(self, user_id: str, file_name: str, bytes_total: int) -> ImportJob:
        job = new_job(user_id, file_name, bytes_total)
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO import_jobs (id, user_id, file_name, status, created_at, updated_at, bytes_total)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job.id, user_id, file_name, job.status.value, job.created_at, job.updated_at, bytes_total),
            )
        )
        return job

    async def get_job(self, user_id: str, job_id: str) -> ImportJob | None:
        row = await self._db.run(
            lambda conn: conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM import_jobs WHERE id = ? AND user_id = ?",  # noqa: S608
                (job_id, user_id),
            ).fetchone()
        )
        return _job(row) if row else None

    async def list_jobs(self, user_id: str, limit: int) -> list[ImportJob]:
        rows = await self._db.run(
            lambda conn: conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM import_jobs WHERE user_id = ?"  # noqa: S608
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (user_id, limit),
            ).fetchall()
        )
        return [_job(row) for row in rows]

    async def save_job(self, job: ImportJob) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "UPDATE import_jobs SET status = ?, updated_at = ?, bytes_total = ?, bytes_read = ?,"
                " conversations_imported = ?, duplicates = ?, skipped = ?, error = ? WHERE id = ? AND user_id = ?",
                (
                    job.status.value,
                    time.time(),
                    job.bytes_total,
                    job.bytes_read,
                    job.conversations_imported,
                    job.duplicates,
                    skipped_to_json(job.skipped),
                    job.error,
                    job.id,
                    job.user_id,
                ),
            )
        )
