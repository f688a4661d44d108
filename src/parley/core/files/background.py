"""Processing files in background tasks: the local home's way, once an upload is in (the serverless home's file
worker is run by the bucket's event instead)."""

from __future__ import annotations

import asyncio
import logging

from parley.background import BackgroundTasks
from parley.core.files.service import FileService

log = logging.getLogger(__name__)


class BackgroundProcessing:
    def __init__(self, files: FileService, *, concurrency: int = 2) -> None:
        self._files = files
        self._tasks = BackgroundTasks()
        # Each file is read by a process of its own: two at a time leave the machine to the other users' requests.
        self._running = asyncio.Semaphore(concurrency)

    def start(self, user_id: str, file_id: str) -> None:
        self._tasks.start(self._process(user_id, file_id), name=f"file {file_id}")

    async def _process(self, user_id: str, file_id: str) -> None:
        async with self._running:
            try:
                await self._files.process(user_id, file_id)
            except Exception:  # the store or the blobs failed: the file stays PROCESSING until its deadline
                log.exception("file %s could not be processed", file_id)

    async def wait_idle(self) -> None:
        """Until every file started has been processed (tests, and a clean shutdown)."""
        await self._tasks.wait_idle()

    async def aclose(self) -> None:
        await self._tasks.aclose()
