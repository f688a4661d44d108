"""What both backends share about import jobs: how a new one starts, and its list of skipped conversations kept
as one JSON list of ``{name, reason}``."""

from __future__ import annotations

import json
import time
import uuid

from parley.core.store.base import ImportJob, ImportStatus, SkippedConversation


def new_job(user_id: str, file_name: str, bytes_total: int) -> ImportJob:
    now = time.time()
    return ImportJob(
        id=uuid.uuid4().hex,
        user_id=user_id,
        file_name=file_name,
        status=ImportStatus.QUEUED,
        created_at=now,
        updated_at=now,
        bytes_total=bytes_total,
    )


def skipped_to_json(skipped: tuple[SkippedConversation, ...]) -> str:
    return json.dumps([{"name": s.name, "reason": s.reason} for s in skipped], ensure_ascii=False)


def skipped_from_json(raw: str) -> tuple[SkippedConversation, ...]:
    return tuple(SkippedConversation(name=item["name"], reason=item["reason"]) for item in json.loads(raw))
