"""Processing files in background tasks: the local home's way, once an upload is in (the serverless home's file
worker is run by the bucket's event instead)."""

from __future__ import annotations

import asyncio
import logging

from parley.core.files.service import FileService

log = logging.getLogger(__name__)


class BackgroundProcessing:
    def __init__(self, files: FileService, *, concurrency: int = 2) -> None:
        self._files = files
        self._tasks: set[asyncio.Task[None]] = set()
        # Each file is read by a process of its own: two at a time leave the machine to the other users' requests.
        self._running = asyncio.Semaphore(concurrency)

    def start(self, user_id: str, file_id: str) -> None:
        task = asyncio.create_task(self._process(user_id, file_id), name=f"file {file_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, user_id: str, file_id: str) -> None:
        async with self._running:
            try:
                await self._files.process(user_id, file_id)
            except Exception:  # the store or the blobs failed: the file stays PROCESSING, its owner may delete it
                log.exception("file %s could not be processed", file_id)

    async def wait_idle(self) -> None:
        """Until every file started has been processed (tests, and a clean shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.wait_idle()
