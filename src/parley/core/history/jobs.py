"""Running an import job: the importer over one stored file, its status and progress saved as it goes, so the
app can poll it. Both homes run this: the local server in a background task, the serverless worker on an S3 event."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from parley.core.history.importer import HistoryImporter, ImportProgress
from parley.core.store.base import ImportJob, ImportJobStore, ImportStatus
from parley.errors import ParleyError

log = logging.getLogger(__name__)


class ImportJobRunner:
    def __init__(self, jobs: ImportJobStore, importer: HistoryImporter) -> None:
        self._jobs = jobs
        self._importer = importer

    async def run(self, job: ImportJob, path: Path) -> ImportJob:
        """Import ``path`` for the job's user; the job ends DONE or FAILED (with the reason), never raising."""
        current = dataclasses.replace(job, status=ImportStatus.RUNNING)
        await self._jobs.save_job(current)

        async def report(progress: ImportProgress) -> None:
            nonlocal current
            current = _with_progress(current, progress)
            await self._jobs.save_job(current)

        try:
            progress = await self._importer.run(job.user_id, path, on_progress=report)
        except ParleyError as error:
            current = dataclasses.replace(current, status=ImportStatus.FAILED, error=error.message)
        except Exception:
            log.exception("import job %s failed", job.id)
            current = dataclasses.replace(
                current, status=ImportStatus.FAILED, error="The import failed unexpectedly; nothing half-made was kept."
            )
        else:
            current = dataclasses.replace(_with_progress(current, progress), status=ImportStatus.DONE)
        await self._jobs.save_job(current)
        return current


def _with_progress(job: ImportJob, progress: ImportProgress) -> ImportJob:
    return dataclasses.replace(
        job,
        bytes_total=progress.bytes_total,
        bytes_read=progress.bytes_read,
        conversations_imported=progress.conversations_imported,
        duplicates=progress.duplicates,
        skipped=tuple(progress.skipped),
    )
