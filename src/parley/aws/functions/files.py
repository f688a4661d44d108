"""The file worker: the files bucket's ObjectCreated event for an original (``files/<user>/<file>/original``)
processes that file with the files service's ``process``, the same step the local server runs once an upload's
bytes are in. The derived blobs it writes (text, image) raise no event the worker acts on: the bucket notifies
only for originals, and any other key is ignored here too.

A file the worker cannot finish is marked ERROR, whatever the cause: an unexpected failure, or a run that would
outlast the function (stopped a few seconds before Lambda's timeout, so the record is still written). Lambda does
not retry it (a file that broke the worker once would again); an invocation that dies outright (out of memory)
goes to the function's dead-letter queue, which alarms.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import urllib.parse
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, ClassVar, Protocol

from parley.aws.clients import aws_client
from parley.aws.files_bucket import S3FileBlobs, file_of_key
from parley.aws.functions.base import LambdaFunction
from parley.compose.files import build_files
from parley.config import ENV_FILES_BUCKET, Settings
from parley.core.files.base import FileBlobs, FileStatus, FileStore, StoredFile
from parley.core.store.base import Stores
from parley.errors import ConfigError, TooLarge

log = logging.getLogger(__name__)

# Left of the function's time when processing is stopped, to mark the file ERROR before Lambda ends the run.
STOP_MARGIN_SECONDS = 10.0
COULD_NOT_PROCESS = "The file could not be processed."


class FileProcessing(Protocol):
    async def process(self, user_id: str, file_id: str) -> object:
        """Sniff, extract or re-encode, index, and mark the file READY (or ERROR with its reason)."""


@dataclasses.dataclass(frozen=True)
class FileWorkerParts:
    files: FileStore
    """The records: the worker checks a file is waiting for its bytes, and marks one it could not finish."""
    processing: FileProcessing


def connect_files(settings: Settings, stores: Stores, blobs: FileBlobs) -> FileWorkerParts:
    """The files service over the bucket's blobs, as the worker runs it (the same as ``parley serve``'s)."""
    return FileWorkerParts(stores.files, build_files(settings, stores, blobs))


class FileWorkerFunction(LambdaFunction):
    needs_secrets: ClassVar[bool] = False  # it signs and checks no token

    def __init__(
        self,
        settings: Settings | None = None,
        env: Mapping[str, str] | None = None,
        *,
        stores: Stores | None = None,
        parts: FileWorkerParts | None = None,
    ) -> None:
        self._parts = parts
        super().__init__(settings, env, stores=stores)

    async def open(self, stack: AsyncExitStack) -> None:
        if not self.settings.files_bucket:
            raise ConfigError(f"The file worker needs the files bucket ({ENV_FILES_BUCKET}).")
        self.s3 = aws_client("s3", self.settings)
        if self._parts is None:
            self._parts = connect_files(self.settings, self.stores, S3FileBlobs(self.s3, self.settings.files_bucket))
        self.parts: FileWorkerParts = self._parts

    async def handle(self, event: dict[str, Any], context: Any) -> None:
        deadline = time.monotonic() + _remaining_seconds(context) - STOP_MARGIN_SECONDS
        for record in event.get("Records", []):
            bucket = record["s3"]["bucket"]["name"]
            key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
            await self._process(bucket, key, deadline)

    async def _process(self, bucket: str, key: str, deadline: float) -> None:
        owner = file_of_key(key)
        if owner is None:
            log.warning("an object that is no file's original: %s", key)
            return
        file = await self.parts.files.get_file(*owner)
        if file is None:
            # Deleted meanwhile, or an upload abandoned past its window (removed when its owner's files were read)
            # whose bytes came after all: they are no one's, and are not kept.
            log.warning("an upload for a file that is gone: %s", key)
            await asyncio.to_thread(self.s3.delete_object, Bucket=bucket, Key=key)
            return
        # Waiting for its bytes (a presigned POST), or given them already (a one-step upload through the API).
        if file.status not in (FileStatus.UPLOADING, FileStatus.PROCESSING):
            # A repeated event, or an original posted again: processed once, never twice.
            log.warning("an upload with no file waiting for it: %s", key)
            return
        # The upload's policy caps its size at the declared one (which the quota counted); this holds even where
        # a policy was not enforced (an emulation): the bytes past what was declared are not kept.
        head = await asyncio.to_thread(self.s3.head_object, Bucket=bucket, Key=key)
        if int(head["ContentLength"]) > file.size:
            await self._fail(file, TooLarge.default_message)
            await asyncio.to_thread(self.s3.delete_object, Bucket=bucket, Key=key)
            return
        try:
            await asyncio.wait_for(self.parts.processing.process(*owner), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            log.error("processing %s outlasted the function", key)
            await self._fail(file, COULD_NOT_PROCESS)
        except Exception:
            log.exception("processing %s failed", key)
            await self._fail(file, COULD_NOT_PROCESS)

    async def _fail(self, file: StoredFile, reason: str) -> None:
        latest = await self.parts.files.get_file(file.user_id, file.id)
        if latest is None or latest.status in (FileStatus.READY, FileStatus.ERROR):
            return  # deleted meanwhile, or the service settled it itself
        failed = dataclasses.replace(latest, status=FileStatus.ERROR, error=reason, updated_at=time.time())
        await self.parts.files.save_file(failed)


def _remaining_seconds(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else 900.0
