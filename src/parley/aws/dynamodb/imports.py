"""Imports on DynamoDB: which conversations of other apps a user has imported (one item each, under the user's
partition), and the user's import jobs (listed newest first through ``gsi1``, gone after a month)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import Any

from botocore.exceptions import ClientError

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import GSI1, Table, is_condition_failure
from parley.core.store.base import ImportJob, ImportStatus
from parley.core.store.import_jobs import new_job, skipped_from_json, skipped_to_json

_JOB_TTL_SECONDS = 30 * 24 * 3600


def _source_hash(source_id: str) -> str:
    # A source's ids are of any length and alphabet; the key holds a digest of fixed length.
    return hashlib.sha256(source_id.encode()).hexdigest()


def _job(item: dict[str, Any]) -> ImportJob:
    return ImportJob(
        id=item["job_id"],
        user_id=item["user_id"],
        file_name=item["file_name"],
        status=ImportStatus(item["status"]),
        created_at=float(item["created_at"]),
        updated_at=float(item["updated_at"]),
        bytes_total=int(item["bytes_total"]),
        bytes_read=int(item["bytes_read"]),
        conversations_imported=int(item["conversations_imported"]),
        duplicates=int(item["duplicates"]),
        skipped=skipped_from_json(item["skipped"]),
        error=item.get("error"),
    )


def _job_item(job: ImportJob) -> dict[str, Any]:
    pk, sk = keys.import_job(job.user_id, job.id)
    item: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "gsi1pk": keys.import_jobs_index(job.user_id),
        "gsi1sk": keys.recency(job.created_at, job.id),
        "job_id": job.id,
        "user_id": job.user_id,
        "file_name": job.file_name,
        "status": job.status.value,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "bytes_total": job.bytes_total,
        "bytes_read": job.bytes_read,
        "conversations_imported": job.conversations_imported,
        "duplicates": job.duplicates,
        "skipped": skipped_to_json(job.skipped),
        "ttl": int(job.created_at + _JOB_TTL_SECONDS),
    }
    if job.error is not None:
        item["error"] = job.error
    return item


class DynamoImportRecordStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def imported_as(self, user_id: str, source: str, source_id: str) -> str | None:
        item = await self._table.get(*keys.imported_conversation(user_id, source, _source_hash(source_id)))
        return str(item["conversation_id"]) if item else None

    async def record_import(self, user_id: str, source: str, source_id: str, conversation_id: str) -> bool:
        pk, sk = keys.imported_conversation(user_id, source, _source_hash(source_id))
        try:
            await self._table.put(
                {"pk": pk, "sk": sk, "conversation_id": conversation_id, "imported_at": time.time()},
                condition="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    async def forget_import(self, user_id: str, source: str, source_id: str) -> None:
        await self._table.delete(*keys.imported_conversation(user_id, source, _source_hash(source_id)))


class DynamoImportJobStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    async def create_job(self, user_id: str, file_name: str, bytes_total: int) -> ImportJob:
        job = new_job(user_id, file_name, bytes_total)
        await self._table.put(_job_item(job), condition="attribute_not_exists(pk)")
        return job

    async def get_job(self, user_id: str, job_id: str) -> ImportJob | None:
        item = await self._table.get(*keys.import_job(user_id, job_id))
        return _job(item) if item else None

    async def list_jobs(self, user_id: str, limit: int) -> list[ImportJob]:
        items, _, _ = await self._table.query(
            "gsi1pk = :p", {":p": keys.import_jobs_index(user_id)}, index=GSI1, forward=False, limit=limit
        )
        return [_job(item) for item in items]

    async def save_job(self, job: ImportJob) -> None:
        await self._table.put(_job_item(dataclasses.replace(job, updated_at=time.time())))
