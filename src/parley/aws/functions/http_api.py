"""The HTTP API: the same FastAPI app as the local server, through Mangum (payload 2.0)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from botocore.config import Config
from mangum import Mangum

from parley.aws.clients import aws_client
from parley.aws.files_bucket import NoFilesBucket, S3FileBlobs, S3FileTransfer
from parley.aws.functions.base import LambdaFunction
from parley.aws.history_bucket import NoHistoryBucket, S3Transfer
from parley.runtime import open_runtime
from parley.server.app import create_app
from parley.server.file_transfer import FileTransfer
from parley.server.history_transfer import HistoryTransfer


class HttpApiFunction(LambdaFunction):
    async def open(self, stack: AsyncExitStack) -> None:
        # SigV4 presigning: links say how long they live (X-Amz-Expires), and every region accepts them.
        self.s3 = aws_client("s3", self.settings, config=Config(signature_version="s3v4"))
        # Attached files' bytes live in the bucket (a function's disk is gone with its container).
        bucket = self.settings.files_bucket
        blobs = S3FileBlobs(self.s3, bucket) if bucket else None
        runtime = await stack.enter_async_context(
            open_runtime(self.settings, env=self.env, stores=self.stores, file_blobs=blobs)
        )
        # Lifespan off: Mangum would start and stop the app on every invocation; the runtime is opened once here.
        self.app = Mangum(
            create_app(
                self.settings,
                runtime,
                check_host=False,
                history_transfer=self._history_transfer(),
                file_transfer=self._file_transfer(),
            ),
            lifespan="off",
        )

    def _history_transfer(self) -> HistoryTransfer:
        # A function's memory and responses are no place for archives or uploads: both go through the bucket.
        if not self.settings.history_bucket:
            return NoHistoryBucket()
        return S3Transfer(self.s3, self.settings.history_bucket, max_import_bytes=self.settings.max_import_bytes)

    def _file_transfer(self) -> FileTransfer:
        # Files are posted straight to the bucket, and its event (not this function) starts their processing.
        if not self.settings.files_bucket:
            return NoFilesBucket()
        return S3FileTransfer(self.s3, self.settings.files_bucket, max_file_bytes=self.settings.max_file_bytes)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        # Mangum runs the thread's current event loop: make that this function's loop, where the runtime lives.
        asyncio.set_event_loop(self.loop)
        return self.app(event, context)
