"""What both stores share about file records: how a new one starts."""

from __future__ import annotations

import time
import uuid

from parley.core.files.base import FileStatus, StoredFile


def new_file(user_id: str, name: str, size: int, now: float | None = None) -> StoredFile:
    now = time.time() if now is None else now
    return StoredFile(
        id=uuid.uuid4().hex,
        user_id=user_id,
        name=name,
        size=size,
        status=FileStatus.UPLOADING,
        created_at=now,
        updated_at=now,
    )
