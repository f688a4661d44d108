"""The worker: subscribed to the SNS topic, it generates one answer per message and streams it back
through PostToConnection, so long answers are never cut by API Gateway's 30 s integration limit."""

from __future__ import annotations

import json
import logging
from contextlib import AsyncExitStack
from typing import Any

from parley.aws.functions.base import LambdaFunction
from parley.aws.relay import StreamRelay
from parley.core.chat.request import PreparedChat
from parley.errors import ParleyError
from parley.runtime import build_chat, build_models
from parley.ws_protocol import encode_error

log = logging.getLogger(__name__)


class WorkerFunction(LambdaFunction):
    needs_secrets = True  # the OpenAI key, when one is configured

    async def open(self, stack: AsyncExitStack) -> None:
        models = await build_models(self.settings, self.env)
        stack.push_async_callback(models.aclose)
        self.chat = build_chat(self.settings, self.stores, models)

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
        relay = StreamRelay(
            lambda frame: api.post(connection_id, frame),
            lambda: self.stores.stop_signals.stop_requested(prepared.user_id, prepared.msgid),
            interval=self.settings.ws_post_interval,
            max_frame_bytes=self.settings.ws_max_frame_bytes,
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
