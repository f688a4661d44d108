"""The WebSocket API's ``sendprompt`` route: the one message route that builds the chat pipeline (the models, the
chat service, attached files' text), in a module of its own so the other routes never import it."""

from __future__ import annotations

import json
import logging
from contextlib import AsyncExitStack

from parley.aws.clients import aws_client
from parley.aws.files_bucket import bucket_blobs
from parley.aws.functions.websocket import ApiGatewaySocket, MessageFunction
from parley.compose.chat import build_chat, build_file_access, build_models
from parley.core.chat.service import ChatService
from parley.core.store.base import User
from parley.errors import ParleyError
from parley.ws_dispatch import ClientSocket
from parley.ws_protocol import ProtocolError, SendPrompt

log = logging.getLogger(__name__)

# SNS takes messages up to 256 KB.
MAX_JOB_BYTES = 250_000


class SendPromptFunction(MessageFunction):
    """Saves the user's message, then hands the answer to the worker through SNS (as the original v2 did)."""

    needs_secrets = True  # the OpenAI key, to list that endpoint's models

    async def open(self, stack: AsyncExitStack) -> None:
        await super().open(stack)
        models = await build_models(self.settings, self.env)
        stack.push_async_callback(models.aclose)
        # Attached documents' text is read from the files bucket before the prompt is saved.
        files = build_file_access(self.settings, self.stores, bucket_blobs(self.settings))
        self.chat: ChatService = build_chat(self.settings, self.stores, models, files=files)
        self.sns = aws_client("sns", self.settings)

    async def send_prompt(self, socket: ClientSocket, user: User, message: SendPrompt) -> None:
        assert isinstance(socket, ApiGatewaySocket)
        prepared = await self.chat.prepare(user, message.request)
        job = json.dumps(
            {"chat": prepared.to_dict(), "connection_id": socket.connection_id, "callback_url": socket.callback_url}
        )
        if len(job.encode()) > MAX_JOB_BYTES:
            await self.chat.fail(prepared, ProtocolError("The conversation is too large to send to the model."))
            raise ProtocolError("The conversation is too large to send to the model.", message.msgid)
        try:
            await self.loop.run_in_executor(
                None, lambda: self.sns.publish(TopicArn=self.settings.sns_topic_arn, Message=job)
            )
        except Exception:
            log.exception("could not queue answer %s", message.msgid)
            not_queued = ParleyError("The answer could not be started. Try again.")
            await self.chat.fail(prepared, not_queued)  # frees its slot: no worker will
            raise not_queued from None
