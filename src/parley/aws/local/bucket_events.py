"""A bucket's ObjectCreated notification, locally: moto's bucket, polled, invoking a function (the history bucket's
imports run the import worker, the files bucket's originals the file worker).

On AWS, S3 invokes the function for every object created whose key matches the notification's filter (a prefix,
and a suffix); here the bucket is listed every 0.3 s and each new matching object is handed to the function as the
same event, once. Like S3's, the delivery is asynchronous: the upload's answer does not wait for the function.
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
        self,
        client: Any,
        bucket: str,
        prefix: str,
        function: FunctionPool,
        *,
        suffix: str = "",
        interval: float = POLL_SECONDS,
    ) -> None:
        self._client = client  # a low-level "s3" client
        self._bucket = bucket
        self._prefix = prefix
        self._suffix = suffix
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
                    log.exception("listing the bucket %s failed", self._bucket)
                await asyncio.sleep(self._interval)
        finally:
            for task in self._running:
                task.cancel()

    async def poll(self) -> None:
        listed = await asyncio.to_thread(self._list)
        present = set()
        for item in listed:
            if not item["Key"].endswith(self._suffix):
                continue
            created = (item["Key"], item["ETag"])
            present.add(created)
            if created not in self._delivered:
                self._delivered.add(created)
                task = asyncio.create_task(self._deliver(item))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        self._delivered &= present  # a key uploaded again later is a new object

    def _list(self) -> list[dict[str, Any]]:
        """Every object under the prefix (the files bucket keeps its objects: past a page of 1,000 too)."""
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix)
        return [item for page in pages for item in page.get("Contents", [])]

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
