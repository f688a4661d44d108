"""The import worker: the history bucket's ObjectCreated event for ``imports/<user>/<job>`` runs that job, the same
``ImportJobRunner`` the local server runs, over the object copied to the function's /tmp. The object and the copy
are removed when the job ends, whatever its outcome."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import tempfile
import urllib.parse
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, ClassVar

from parley.aws.clients import aws_client
from parley.aws.functions.base import LambdaFunction
from parley.aws.history_bucket import job_of_key
from parley.compose.history import build_import_runner
from parley.core.history.jobs import ImportJobRunner
from parley.core.store.base import ImportStatus
from parley.errors import TooLarge

log = logging.getLogger(__name__)


class ImportWorkerFunction(LambdaFunction):
    needs_secrets: ClassVar[bool] = False  # it signs and checks no token

    async def open(self, stack: AsyncExitStack) -> None:
        self.s3 = aws_client("s3", self.settings)
        self.runner: ImportJobRunner = build_import_runner(self.stores)

    async def handle(self, event: dict[str, Any], context: Any) -> None:
        for record in event.get("Records", []):
            bucket = record["s3"]["bucket"]["name"]
            key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
            await self._import(bucket, key)

    async def _import(self, bucket: str, key: str) -> None:
        owner = job_of_key(key)
        job = None if owner is None else await self.stores.import_jobs.get_job(*owner)
        try:
            if job is None or job.status is not ImportStatus.QUEUED:
                log.warning("an upload with no job waiting for it: %s", key)  # a retry, or a stray object
                return
            # The upload's policy caps its size; this holds even where a policy was not enforced (an emulation).
            head = await asyncio.to_thread(self.s3.head_object, Bucket=bucket, Key=key)
            if int(head["ContentLength"]) > self.settings.max_import_bytes:
                failed = dataclasses.replace(job, status=ImportStatus.FAILED, error=TooLarge.default_message)
                await self.stores.import_jobs.save_job(failed)
                return
            with tempfile.TemporaryDirectory() as scratch:
                path = Path(scratch) / "upload"
                await asyncio.to_thread(self.s3.download_file, bucket, key, str(path))
                await self.runner.run(job, path)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.s3.delete_object, Bucket=bucket, Key=key)
