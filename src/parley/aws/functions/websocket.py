"""The WebSocket API's routes: $connect, $disconnect, sendprompt, stop and $default.

These import neither FastAPI nor a model SDK unless they need one, so their cold starts stay small.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import AsyncExitStack
from typing import Any

from parley.aws.clients import aws_client
from parley.aws.functions.base import LambdaFunction
from parley.core.auth.sessions import SessionCheck
from parley.core.store.base import User
from parley.errors import InvalidToken, ParleyError, RateLimited
from parley.runtime import build_auth, build_chat, build_models, build_rate_limit
from parley.ws_protocol import NotRunning, ProtocolError, SendPrompt, Stop, encode_error, parse_client_message

log = logging.getLogger(__name__)

OK = {"statusCode": 200}
FORBIDDEN = {"statusCode": 403}
TOO_MANY_CONNECTIONS = {"statusCode": 429}  # $connect's answer is the handshake's status
# API Gateway closes a WebSocket after 2 hours at most; the record may go then.
CONNECTION_TTL_SECONDS = 2 * 3600
# SNS takes messages up to 256 KB.
MAX_JOB_BYTES = 250_000


class ConnectFunction(LambdaFunction):
    """Redeems the single-use ticket from the query string and records whose session the connection belongs
    to, unless the user already holds ``max_sockets_per_user`` open connections."""

    async def open(self, stack: AsyncExitStack) -> None:
        self.auth = build_auth(self.settings, self.stores)

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        origin = headers.get("origin")
        # Browsers always send Origin. The deployment lists the web app's origin; with none listed, no
        # browser page may connect (fail closed). Clients that send no Origin are not browsers.
        if origin and origin not in self.settings.allowed_origins:
            return FORBIDDEN
        ticket = (event.get("queryStringParameters") or {}).get("ticket", "")
        try:
            holder = await self.auth.redeem_ticket(ticket)
        except InvalidToken:
            return FORBIDDEN
        # Counted from the store (its user index is eventually consistent: handshakes within the same instant
        # may pass together), so the cap holds whichever container runs each $connect.
        open_connections = await self.stores.connections.user_connections(holder.session.user_id)
        if len(open_connections) >= self.settings.max_sockets_per_user:
            return TOO_MANY_CONNECTIONS
        connection_id = event["requestContext"]["connectionId"]
        await self.stores.connections.put_connection(
            connection_id, holder.session, time.time() + CONNECTION_TTL_SECONDS
        )
        # A session that ended while this ran found no record to close: look again now that the record exists.
        if not await self.auth.session_valid(holder.session):
            await self.stores.connections.delete_connection(connection_id)
            return FORBIDDEN
        return OK


class DisconnectFunction(LambdaFunction):
    needs_secrets = False

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        await self.stores.connections.delete_connection(event["requestContext"]["connectionId"])
        return OK


class _MessageFunction(LambdaFunction):
    """A route that receives a client message on a connection opened by $connect.

    Every message is served only while the session that opened its connection stands. The session-end
    function closes the sockets of an ended session, but after the stream's delay, through an index that
    can lag, and not at all once its retries run out; until then the socket is open, and this check is
    what refuses it.
    """

    needs_secrets = False

    async def open(self, stack: AsyncExitStack) -> None:
        self.rate_limit = build_rate_limit(self.settings, self.stores)
        self.sessions = SessionCheck(self.stores)

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_context = event["requestContext"]
        connection_id = request_context["connectionId"]
        api = self.management_api(request_context)
        session = await self.stores.connections.get_connection(connection_id)
        user = await self.sessions.live_user(session) if session is not None else None
        if user is None:
            # Unknown, or its session ended (logout, new password, account disabled or removed): close it,
            # as the local server does, and forget it.
            await api.disconnect(connection_id)
            await self.stores.connections.delete_connection(connection_id)
            return FORBIDDEN
        try:
            # The same budget as the user's HTTP requests; every message counts, even a malformed one.
            await self.rate_limit.check(user.id)
        except RateLimited as limited:
            await api.post(
                connection_id, encode_error(None, limited.code, limited.message, retry_after=limited.retry_after)
            )
            return OK
        try:
            message = parse_client_message(event.get("body") or "")
        except ProtocolError as error:
            await api.post(connection_id, encode_error(error.msgid, error.code, error.message))
            return OK
        try:
            await self.act(message, user, event)
        except ParleyError as error:
            await api.post(connection_id, encode_error(message.msgid, error.code, error.message))
        return OK

    async def act(self, message: SendPrompt | Stop, user: User, event: dict[str, Any]) -> None:
        raise NotImplementedError


class SendPromptFunction(_MessageFunction):
    """Saves the user's message, then hands the answer to the worker through SNS (as the original v2 did)."""

    needs_secrets = True  # the OpenAI key, to list that endpoint's models

    async def open(self, stack: AsyncExitStack) -> None:
        await super().open(stack)
        models = await build_models(self.settings, self.env)
        stack.push_async_callback(models.aclose)
        self.chat = build_chat(self.settings, self.stores, models)
        self.sns = aws_client("sns", self.settings)

    async def act(self, message: SendPrompt | Stop, user: User, event: dict[str, Any]) -> None:
        if not isinstance(message, SendPrompt):
            raise ProtocolError("This route takes sendprompt messages.")
        prepared = await self.chat.prepare(user, message.request)
        request_context = event["requestContext"]
        job = json.dumps(
            {
                "chat": prepared.to_dict(),
                "connection_id": request_context["connectionId"],
                "callback_url": self.settings.ws_callback_url
                or f"https://{request_context['domainName']}/{request_context['stage']}",
            }
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


class StopFunction(_MessageFunction):
    async def act(self, message: SendPrompt | Stop, user: User, event: dict[str, Any]) -> None:
        if not isinstance(message, Stop):
            raise ProtocolError("This route takes stop messages.")
        if not await self.stores.stop_signals.request_stop(user.id, message.msgid):
            raise NotRunning(message.msgid)


class DefaultFunction(_MessageFunction):
    """Messages whose action matches no route (API Gateway's $default)."""

    async def act(self, message: SendPrompt | Stop, user: User, event: dict[str, Any]) -> None:
        raise ProtocolError("action: must be 'sendprompt' or 'stop'.", message.msgid)
