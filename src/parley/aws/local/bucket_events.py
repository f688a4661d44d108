"""The history bucket's ObjectCreated notification, locally: moto's bucket, polled, invoking the import worker.

On AWS, S3 invokes the function for every object created under ``imports/``; here the bucket is listed every
0.3 s and each new object is handed to the function as the same event, once. Like S3's, the delivery is
asynchronous: the upload's answer does not wait for the import.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

from parley.aws.local.containers import FunctionPool

log = logging.getLogger(__name__)

POLL_SECONDS = 0.3


class BucketNotification:
    def __init__(
        self, client: Any, bucket: str, prefix: str, function: FunctionPool, *, interval: float = POLL_SECONDS
    ) -> None:
        self._client = client  # a low-level "s3" client
        self._bucket = bucket
        self._prefix = prefix
        self._function = function
        self._interval = interval
        self._delivered: set[tuple[str, str]] = set()  # (key, etag)
        self._running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Poll until cancelled (see ``parley.background.in_background``)."""
        try:
            while True:
                try:
                    await self.poll()
                except Exception:
                    log.exception("listing the history bucket failed")
                await asyncio.sleep(self._interval)
        finally:
            for task in self._running:
                task.cancel()

    async def poll(self) -> None:
        listed = await asyncio.to_thread(self._client.list_objects_v2, Bucket=self._bucket, Prefix=self._prefix)
        present = set()
        for item in listed.get("Contents", []):
            created = (item["Key"], item["ETag"])
            present.add(created)
            if created not in self._delivered:
                self._delivered.add(created)
                task = asyncio.create_task(self._deliver(item))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        self._delivered &= present  # a key uploaded again later is a new object

    async def _deliver(self, item: dict[str, Any]) -> None:
        event = {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Post",
                    "s3": {
                        "bucket": {"name": self._bucket, "arn": f"arn:aws:s3:::{self._bucket}"},
                        "object": {"key": urllib.parse.quote_plus(item["Key"]), "size": item["Size"]},
                    },
                }
            ]
        }
        try:
            await self._function.invoke(event)
        except Exception:
            log.exception("%s failed on %s", self._function.name, item["Key"])
