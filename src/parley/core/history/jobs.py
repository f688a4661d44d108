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

# Deadlines after which a job is taken to have died with the process that ran it (a server stopped, a worker out of
# memory), the same on both homes; applied when the owner's jobs are read, and, locally, when the server starts.
#
# A queued job's file arrives within this or never (a presigned POST lives 15 minutes; the app uploads the file
# right after making the job).
IMPORT_UPLOAD_WINDOW_SECONDS = 2 * 3600.0
# A running job saves its progress every half second; none for this long (the import worker's longest run, Lambda's
# limit) means nothing is running it any more.
IMPORT_RUN_SECONDS = 15 * 60.0
NEVER_ARRIVED = "The file to import never arrived; import it again."
# Importing is duplicate-safe (by source and id), so importing the file again adds only what is missing.
STOPPED = "The import stopped before it finished; import the file again (nothing is imported twice)."


def overdue(job: ImportJob, now: float) -> str | None:
    """Why a job is past its deadline (the reason it fails with); None while it may still end by itself."""
    if job.status is ImportStatus.QUEUED and now - job.created_at > IMPORT_UPLOAD_WINDOW_SECONDS:
        return NEVER_ARRIVED
    if job.status is ImportStatus.RUNNING and now - job.updated_at > IMPORT_RUN_SECONDS:
        return STOPPED
    return None


async def settled(jobs: ImportJobStore, job: ImportJob, now: float) -> ImportJob:
    """The job as its owner sees it: FAILED with a plain reason once past its deadline."""
    reason = overdue(job, now)
    if reason is None:
        return job
    log.warning("import job %s did not end in time", job.id)
    failed = dataclasses.replace(job, status=ImportStatus.FAILED, error=reason)
    await jobs.save_job(failed)
    return failed


async def fail_interrupted(jobs: ImportJobStore, user_id: str, *, limit: int = 100) -> list[ImportJob]:
    """At a local server's start: the user's jobs it was running when it stopped fail (their spooled files are not
    kept by job, so they are not resumed: the user imports the file again, which adds only what is missing)."""
    failed = []
    for job in await jobs.list_jobs(user_id, limit):
        if job.status is ImportStatus.RUNNING:
            failed.append(dataclasses.replace(job, status=ImportStatus.FAILED, error=STOPPED))
            await jobs.save_job(failed[-1])
    return failed


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
