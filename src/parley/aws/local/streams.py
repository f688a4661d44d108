"""A DynamoDB stream's event source mapping, locally: moto's stream, polled, feeding a Lambda function.

Like Lambda, it reads each shard in order, keeps the records the mapping's filter passes, and invokes
the function with them as one batch. It polls every 0.2 s (Lambda polls a shard about four times a
second). A failed batch is logged and skipped: Lambda's retries are not emulated.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from parley.aws.local.containers import FunctionPool
from parley.aws.local.filters import passes

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2


class StreamMapping:
    def __init__(
        self,
        client: Any,
        stream_arn: str,
        function: FunctionPool,
        patterns: Sequence[Mapping[str, Any]],
        *,
        interval: float = POLL_SECONDS,
    ) -> None:
        self._client = client  # a low-level "dynamodbstreams" client
        self._stream_arn = stream_arn
        self._function = function
        self._patterns = patterns
        self._interval = interval
        self._iterators: dict[str, str | None] = {}  # shard id -> where to read next; None once it is closed

    async def run(self) -> None:
        """Poll until cancelled (see ``parley.background.in_background``)."""
        while True:
            try:
                await self.poll()
            except Exception:
                log.exception("reading the table's stream failed")
            await asyncio.sleep(self._interval)

    async def poll(self) -> None:
        """Read every shard once and deliver what passes the filter."""
        description = await asyncio.to_thread(self._client.describe_stream, StreamArn=self._stream_arn)
        for shard in description["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                # The mapping starts with the table: nothing written before it is missed.
                started = await asyncio.to_thread(
                    self._client.get_shard_iterator,
                    StreamArn=self._stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="TRIM_HORIZON",
                )
                self._iterators[shard_id] = started["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue
            page = await asyncio.to_thread(self._client.get_records, ShardIterator=iterator)
            self._iterators[shard_id] = page.get("NextShardIterator")
            batch = [self._as_lambda_record(record) for record in page["Records"]]
            batch = [record for record in batch if passes(self._patterns, record)]
            if batch:
                try:
                    await self._function.invoke({"Records": batch})
                except Exception:
                    log.exception("%s failed on a batch of %d stream records", self._function.name, len(batch))

    def _as_lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A GetRecords record as Lambda hands it over: with the stream's ARN, and times in epoch seconds."""
        stream = dict(record["dynamodb"])
        created = stream.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            stream["ApproximateCreationDateTime"] = int(created.timestamp())
        return {**record, "dynamodb": stream, "eventSourceARN": self._stream_arn}
