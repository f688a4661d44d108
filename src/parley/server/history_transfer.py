"""Where an export archive is fetched from and where an import's file is uploaded to: the one thing about history
that differs between the homes. The routes are the same on both; each home hands the app its ``HistoryTransfer``.

Locally (``LocalTransfer``) both go through this server: an archive is streamed from a one-time link that expires
within minutes, a file is uploaded to ``POST /api/imports/{id}/file`` and imported by a background task. On AWS
(``parley.aws.history_bucket``) both go through a private S3 bucket, with presigned URLs, and a worker imports.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from parley.background import BackgroundTasks
from parley.core.store.base import ImportJob

if TYPE_CHECKING:  # the bucket's functions use UploadTarget, and run no import here
    from parley.core.history.jobs import ImportJobRunner

DOWNLOAD_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class UploadTarget:
    """Where the browser sends the file: a multipart POST of ``fields`` and then the file, in a field ``file``."""

    url: str
    fields: dict[str, str] = field(default_factory=dict)
    max_bytes: int = 0


ArchiveWriter = Callable[[], AsyncIterator[bytes]]


class HistoryTransfer(Protocol):
    async def export_link(self, user_id: str, archive: ArchiveWriter) -> str:
        """A URL the user's browser can download the archive from, for a few minutes."""

    async def upload_target(self, job: ImportJob) -> UploadTarget:
        """Where the file of a new (queued) job is to be uploaded."""


@dataclass(frozen=True)
class _Download:
    user_id: str
    expires_at: float


class LocalTransfer:
    """Exports through one-time links to this server, imports through uploads to it and background tasks."""

    def __init__(
        self, runner: ImportJobRunner, *, max_import_bytes: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._runner = runner
        self._max_import_bytes = max_import_bytes
        self._clock = clock
        self._downloads: dict[str, _Download] = {}  # sha256 of a token -> whose archive, until when
        self._tasks = BackgroundTasks()
        self._uploading: set[str] = set()  # jobs whose file is being uploaded or imported
        # Imports parse in threads; two at a time keeps the other users' requests answered.
        self._running = asyncio.Semaphore(2)

    async def export_link(self, user_id: str, archive: ArchiveWriter) -> str:
        self._forget_expired()
        token = secrets.token_urlsafe(32)
        self._downloads[_digest(token)] = _Download(user_id, self._clock() + DOWNLOAD_TTL_SECONDS)
        return f"/api/exports/{token}"

    def take_download(self, token: str) -> str | None:
        """The user whose archive this token fetches, once; None when it is unknown, used or expired."""
        download = self._downloads.pop(_digest(token), None)
        if download is None or download.expires_at <= self._clock():
            return None
        return download.user_id

    async def upload_target(self, job: ImportJob) -> UploadTarget:
        return UploadTarget(url=f"/api/imports/{job.id}/file", max_bytes=self._max_import_bytes)

    def claim_upload(self, job_id: str) -> bool:
        """Take the right to upload a job's file; False when its file is already coming or imported."""
        if job_id in self._uploading:
            return False
        self._uploading.add(job_id)
        return True

    def release_upload(self, job_id: str) -> None:
        self._uploading.discard(job_id)

    def start_import(self, job: ImportJob, path: Path) -> None:
        """Import the spooled file in the background; the file is removed when the job ends."""
        self._tasks.start(self._import(job, path), name=f"import {job.id}")

    async def _import(self, job: ImportJob, path: Path) -> None:
        try:
            async with self._running:
                await self._runner.run(job, path)
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            self._uploading.discard(job.id)

    async def wait_idle(self) -> None:
        """Until every import started has ended (tests, and a clean shutdown)."""
        await self._tasks.wait_idle()

    async def aclose(self) -> None:
        await self._tasks.aclose()

    def _forget_expired(self) -> None:
        now = self._clock()
        for digest in [d for d, download in self._downloads.items() if download.expires_at <= now]:
            del self._downloads[digest]


def _digest(token: str) -> str:
    # Only digests are kept: a memory dump does not hand out live links.
    return hashlib.sha256(token.encode()).hexdigest()
