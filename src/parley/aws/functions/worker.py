"""The worker: subscribed to the SNS topic, it generates one answer per message and streams it back
through PostToConnection, so long answers are never cut by API Gateway's 30 s integration limit."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from parley.aws.files_bucket import bucket_blobs
from parley.aws.functions.base import LambdaFunction
from parley.aws.management_api import ManagementApi
from parley.aws.relay import StreamRelay
from parley.compose.chat import build_chat, build_file_access, build_models
from parley.core.chat.request import PreparedChat
from parley.core.store.base import LiveSignals, StopSignalStore
from parley.errors import ParleyError
from parley.ws_protocol import encode_error

log = logging.getLogger(__name__)


class AnswerWatch:
    """The answer's record in the store, read once per flush: whether the user pressed Stop, and which connections
    follow the answer (``resume`` from another connection). Those are posted to like the one that asked."""

    def __init__(self, store: StopSignalStore, user_id: str, msgid: str, api: ManagementApi) -> None:
        self._store = store
        self._user_id = user_id
        self._msgid = msgid
        self._api = api
        self._read: LiveSignals | None = None

    async def stop_requested(self) -> bool:
        self._read = await self._store.signals(self._user_id, self._msgid)
        return self._read.stop_requested

    async def current(self) -> Mapping[str, int]:
        read, self._read = self._read, None  # the stop check's read, or a fresh one
        if read is None:
            read = await self._store.signals(self._user_id, self._msgid)
        return read.followers

    async def post(self, connection_id: str, frame: str) -> bool:
        return await self._api.post(connection_id, frame)


class WorkerFunction(LambdaFunction):
    needs_secrets = True  # the OpenAI key, when one is configured

    async def open(self, stack: AsyncExitStack) -> None:
        models = await build_models(self.settings, self.env)
        stack.push_async_callback(models.aclose)
        # Attached images are read from the files bucket just before the model is called.
        files = build_file_access(self.settings, self.stores, bucket_blobs(self.settings))
        self.chat = build_chat(self.settings, self.stores, models, files=files)

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event.get("Records", []):
            await self.answer(json.loads(record["Sns"]["Message"]))
        return {"status": "ok"}

    async def answer(self, job: dict[str, Any]) -> None:
        prepared = PreparedChat.from_dict(job["chat"])
        connection_id = job["connection_id"]
        api = self.management_api_at(job["callback_url"])
        try:
            generation = self.chat.launch(prepared)
        except ParleyError as error:
            await self.chat.fail(prepared, error)
            await api.post(connection_id, encode_error(prepared.msgid, error.code, error.message))
            return
        watch = AnswerWatch(self.stores.stop_signals, prepared.user_id, prepared.msgid, api)
        relay = StreamRelay(
            lambda frame: api.post(connection_id, frame),
            watch.stop_requested,
            interval=self.settings.ws_post_interval,
            max_frame_bytes=self.settings.ws_max_frame_bytes,
            followers=watch,
        )
        stats = await relay.run(generation)
        await generation.wait()
        log.info(
            "answer %s relayed in %d posts (largest frame %d bytes)%s",
            prepared.msgid,
            stats.posts,
            stats.largest_frame,
            "; the client had gone" if stats.client_gone else "",
        )
