"""The WebSocket: opened with a single-use ticket, then sendprompt / stop actions and streamed events.

Client → server: {"action": "sendprompt", "payload": {"msgid", "conversation_id"?, "prompt", "params"}}
                 {"action": "stop", "payload": {"msgid"}}
Server → client: start, delta, done and error events (see parley.core.chat.events).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import Field, TypeAdapter, ValidationError

from parley.core.chat.service import ChatRequest, Generation
from parley.core.store.base import User
from parley.errors import InvalidToken, ParleyError
from parley.runtime import Runtime
from parley.server.schemas import ChatParamsIn, Strict

log = logging.getLogger(__name__)

router = APIRouter()

CLOSE_POLICY_VIOLATION = 1008


class SendPromptPayload(Strict):
    msgid: str = Field(min_length=1, max_length=64)
    conversation_id: str | None = Field(default=None, max_length=64)
    prompt: str
    params: ChatParamsIn = Field(default_factory=ChatParamsIn)
    edit_message_id: str | None = Field(default=None, max_length=64)


class StopPayload(Strict):
    msgid: str = Field(min_length=1, max_length=64)


class SendPrompt(Strict):
    action: Literal["sendprompt"]
    payload: SendPromptPayload


class Stop(Strict):
    action: Literal["stop"]
    payload: StopPayload


ClientMessage = TypeAdapter(Annotated[SendPrompt | Stop, Field(discriminator="action")])


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Same-origin browsers, listed origins, and non-browser clients (which send no Origin) may connect."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if not origin_allowed(websocket, runtime.settings.allowed_origins):
        await websocket.close(code=CLOSE_POLICY_VIOLATION)  # before accept: the handshake gets a 403
        return
    await websocket.accept()
    try:
        user = await runtime.auth.redeem_ticket(websocket.query_params.get("ticket", ""))
    except InvalidToken:
        await websocket.close(code=CLOSE_POLICY_VIOLATION, reason="invalid or used ticket")
        return
    await ChatConnection(websocket, user, runtime).serve()


class ChatConnection:
    """One authenticated socket: reads actions, forwards each generation's events as they come."""

    def __init__(self, websocket: WebSocket, user: User, runtime: Runtime) -> None:
        self._ws = websocket
        self._user = user
        self._runtime = runtime
        self._send_lock = asyncio.Lock()
        self._forwarders: set[asyncio.Task[None]] = set()
        self._generations: set[Generation] = set()

    async def serve(self) -> None:
        try:
            while True:
                raw = await self._ws.receive_text()
                await self._handle(raw)
        except WebSocketDisconnect:
            pass
        finally:
            for generation in self._generations:
                generation.detach()
            for task in self._forwarders:
                task.cancel()

    async def _handle(self, raw: str) -> None:
        try:
            message = ClientMessage.validate_python(json.loads(raw))
        except (json.JSONDecodeError, ValidationError) as exc:
            await self._send_error(_msgid_of(raw), "invalid_input", _describe(exc))
            return
        if isinstance(message, Stop):
            if not self._runtime.chat.stop(self._user.id, message.payload.msgid):
                await self._send_error(message.payload.msgid, "not_found", "No answer with that msgid is running.")
            return
        payload = message.payload
        try:
            generation = await self._runtime.chat.start(
                self._user,
                ChatRequest(
                    prompt=payload.prompt,
                    conversation_id=payload.conversation_id,
                    msgid=payload.msgid,
                    params=payload.params.to_core(),
                    edit_message_id=payload.edit_message_id,
                ),
            )
        except ParleyError as error:
            await self._send_error(payload.msgid, error.code, error.message)
            return
        self._generations.add(generation)
        task = asyncio.create_task(self._forward(generation))
        self._forwarders.add(task)
        task.add_done_callback(self._forwarders.discard)

    async def _forward(self, generation: Generation) -> None:
        try:
            async for event in generation.events():
                await self._send(event.to_dict())
        except (WebSocketDisconnect, RuntimeError):
            generation.detach()  # the socket is gone; the answer is still finished and saved
        finally:
            self._generations.discard(generation)

    async def _send(self, data: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._ws.send_text(json.dumps(data, separators=(",", ":")))

    async def _send_error(self, msgid: str | None, code: str, message: str) -> None:
        await self._send({"type": "error", "msgid": msgid, "code": code, "message": message})


def _msgid_of(raw: str) -> str | None:
    try:
        msgid = json.loads(raw).get("payload", {}).get("msgid")
    except (json.JSONDecodeError, AttributeError):
        return None
    return msgid if isinstance(msgid, str) and len(msgid) <= 64 else None


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return "The message is not valid JSON."
