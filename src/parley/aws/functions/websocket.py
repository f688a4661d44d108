"""The WebSocket API's routes: $disconnect, stop and $default (which serves ``resume``). ``$connect`` (which checks
tickets, with the token libraries) and ``sendprompt`` (which builds the chat pipeline) have modules of their own,
``functions/connect.py`` and ``functions/sendprompt.py``.

Every message route serves its message through the one WebSocket policy (``parley.ws_dispatch``) that the local
server uses too; here are the serverless ways to carry out each action. ``resume`` has no route of its own: it is
as light as ``stop``, and API Gateway routes what matches no route to ``$default``.

These import neither FastAPI, a model SDK, the chat pipeline nor the token libraries, so their cold starts stay
small.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from parley.aws.functions.base import LambdaFunction
from parley.aws.management_api import ManagementApi
from parley.compose.limits import build_limits
from parley.compose.websocket import build_ws_policy
from parley.core.chat.abandoned import AbandonedAnswers
from parley.core.chat.resume import SavedAnswers
from parley.core.store.base import User
from parley.errors import AnswerAbandoned
from parley.ws_dispatch import ClientSocket
from parley.ws_protocol import NotRunning, ProtocolError, Resume, SendPrompt, Stop, encode_error, encode_event

log = logging.getLogger(__name__)

OK = {"statusCode": 200}
FORBIDDEN = {"statusCode": 403}


class DisconnectFunction(LambdaFunction):
    needs_secrets = False

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        await self.stores.connections.delete_connection(event["requestContext"]["connectionId"])
        return OK


@dataclass
class ApiGatewaySocket:
    """A client's connection, as a Lambda function reaches it: through the @connections API."""

    api: ManagementApi
    connection_id: str
    callback_url: str
    forget: Callable[[str], Awaitable[None]]  # the connection store's delete_connection

    async def send(self, frame: str) -> None:
        await self.api.post(self.connection_id, frame)

    async def close_ended_session(self) -> None:
        # Unknown, or its session ended (logout, new password, account disabled or removed): close it, as the
        # local server does, and forget it.
        await self.api.disconnect(self.connection_id)
        await self.forget(self.connection_id)


class MessageFunction(LambdaFunction):
    """A route that receives a client message on a connection opened by $connect, and serves it through the
    WebSocket policy: every message only while the session that opened its connection stands (the session-end
    function closes the sockets of an ended session, but after the stream's delay, through an index that can lag,
    and not at all once its retries run out), and within the user's request budget."""

    needs_secrets = False

    async def open(self, stack: AsyncExitStack) -> None:
        self.policy = build_ws_policy(self.settings, self.stores)
        abandoned_after = build_limits(self.settings).abandoned_after
        self.saved_answers = SavedAnswers(AbandonedAnswers(self.stores.messages, abandoned_after))

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_context = event["requestContext"]
        connection_id = request_context["connectionId"]
        socket = ApiGatewaySocket(
            self.management_api(request_context),
            connection_id,
            self.settings.ws_callback_url or f"https://{request_context['domainName']}/{request_context['stage']}",
            self.stores.connections.delete_connection,
        )
        session = await self.stores.connections.get_connection(connection_id)
        served = await self.policy.dispatch(socket, session, event.get("body") or "", self)
        return OK if served else FORBIDDEN

    # ChatActions, as a function without the models or the queue carries them out

    async def send_prompt(self, socket: ClientSocket, user: User, message: SendPrompt) -> None:
        raise ProtocolError("This route takes stop and resume messages.", message.msgid)

    async def stop(self, socket: ClientSocket, user: User, message: Stop) -> None:
        # The worker, in another function, reads the flag between its posts.
        if not await self.stores.stop_signals.request_stop(user.id, message.msgid):
            raise NotRunning(message.msgid)

    async def resume(self, socket: ClientSocket, user: User, message: Resume) -> None:
        assert isinstance(socket, ApiGatewaySocket)
        # While the answer runs, its worker reads its followers between posts, and sends this connection what it
        # missed and the rest. Only the user's own answer can be followed (the record is keyed by user and msgid).
        if await self.stores.stop_signals.follow(user.id, message.msgid, socket.connection_id, message.after_seq):
            return
        saved = await self.saved_answers.get(user.id, message.conversation_id, message.msgid, message.after_seq)
        for event in saved.events:
            await socket.send(encode_event(event))
        if not saved.ended:  # saved as streaming, yet no worker runs it: it is not coming back
            gone = AnswerAbandoned()
            await socket.send(encode_error(message.msgid, gone.code, gone.message))


class StopFunction(MessageFunction):
    """The ``stop`` route."""


class DefaultFunction(MessageFunction):
    """Messages whose action matches no route (API Gateway's $default): ``resume``, and anything unknown (which
    the policy answers with an error frame)."""
