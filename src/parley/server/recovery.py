"""What `parley serve` does at start-up about what the server left behind when it stopped (a crash, a kill, a
restart mid-upload): nothing stays stuck, nothing is leaked.

- Files it was processing are processed again, in the background like any upload (their originals are kept).
- Uploads abandoned past their window are removed with any bytes they got (``FileService``'s deadlines).
- Import jobs it was running fail with a plain reason; importing the file again adds only what is missing.
- Spooled uploads (``*.upload`` in the uploads directories) older than the upload window are removed.

The serverless home has no start-up: there the same deadlines are applied when a user's files and jobs are read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from parley.core.files.background import BackgroundProcessing
from parley.core.files.service import UPLOAD_WINDOW_SECONDS
from parley.core.history.jobs import fail_interrupted
from parley.runtime import Runtime
from parley.server.uploads import SPOOL_SUFFIX

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovered:
    files_resumed: int
    imports_failed: int
    spools_removed: int


async def recover(runtime: Runtime, processing: BackgroundProcessing) -> Recovered:
    resumed = failed = 0
    for user in await runtime.stores.users.list_users():
        for file in await runtime.files.resume_interrupted(user.id):
            processing.start(user.id, file.id)
            resumed += 1
        failed += len(await fail_interrupted(runtime.stores.import_jobs, user.id))
    settings = runtime.settings
    removed = 0
    for directory in (settings.file_uploads_dir, settings.imports_dir):
        removed += await asyncio.to_thread(remove_stale_spools, directory, time.time() - UPLOAD_WINDOW_SECONDS)
    if resumed or failed or removed:
        log.warning(
            "after a stop: %d files processed again, %d imports failed, %d spooled uploads removed",
            resumed,
            failed,
            removed,
        )
    return Recovered(resumed, failed, removed)


def remove_stale_spools(directory: Path, before: float) -> int:
    """Remove spooled uploads last written before ``before`` (a time); a younger one may still be arriving."""
    removed = 0
    if not directory.is_dir():
        return 0
    for path in directory.glob(f"*{SPOOL_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < before:
                path.unlink()
                removed += 1
    return removed
