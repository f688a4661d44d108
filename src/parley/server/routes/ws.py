"""The WebSocket: opened with a single-use ticket, then sendprompt / stop actions and streamed events.

The message protocol is in ``parley.ws_protocol``, shared with the serverless edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from parley.core.chat.service import Generation
from parley.core.store.base import SessionRef, User
from parley.errors import InvalidToken, ParleyError, RateLimited
from parley.runtime import Runtime
from parley.server.browser_session import origin_matches
from parley.server.deps import rate_limit
from parley.server.sessions import SessionWatcher
from parley.server.ws_text import receive_text
from parley.ws_protocol import NotRunning, ProtocolError, Stop, encode_error, encode_event, parse_client_message

log = logging.getLogger(__name__)

router = APIRouter()

CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """Same-origin browsers, listed origins, and non-browser clients (which send no Origin) may connect."""
    origin = websocket.headers.get("origin")
    return origin is None or origin_matches(origin, websocket.headers.get("host", ""), allowed)


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if not origin_allowed(websocket, runtime.settings.allowed_origins):
        await websocket.close(code=CLOSE_POLICY_VIOLATION)  # before accept: the handshake gets a 403
        return
    await websocket.accept()
    sessions: SessionWatcher = websocket.app.state.sessions
    try:
        holder = await runtime.auth.redeem_ticket(websocket.query_params.get("ticket", ""))
    except InvalidToken:
        await websocket.close(code=CLOSE_POLICY_VIOLATION, reason="invalid or used ticket")
        return
    user, session = holder.user, holder.session
    if sessions.sockets_of(user.id) >= runtime.settings.max_sockets_per_user:
        await websocket.close(code=CLOSE_TRY_AGAIN_LATER, reason="too many open connections")
        return
    # The socket lives only as long as the session that asked for its ticket.
    handle = sessions.watch(session, lambda: websocket.close(code=CLOSE_POLICY_VIOLATION, reason="session ended"))
    try:
        await ChatConnection(websocket, user, session, runtime).serve()
    finally:
        sessions.forget(handle)


class ChatConnection:
    """One authenticated socket: reads actions, forwards each generation's events as they come."""

    def __init__(self, websocket: WebSocket, user: User, session: SessionRef, runtime: Runtime) -> None:
        self._ws = websocket
        self._user = user
        self._session = session
        self._runtime = runtime
        self._send_lock = asyncio.Lock()
        self._forwarders: set[asyncio.Task[None]] = set()
        self._generations: set[Generation] = set()

    async def serve(self) -> None:
        try:
            while (raw := await receive_text(self._ws)) is not None:
                # The session watcher closes an ended session's sockets, but only at its next sweep: a message
                # that comes in between is not served either.
                if not await self._runtime.auth.session_valid(self._session):
                    with contextlib.suppress(RuntimeError):  # the watcher may have closed it just now
                        await self._ws.close(code=CLOSE_POLICY_VIOLATION, reason="session ended")
                    return
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
            await rate_limit(self._ws.app).check(self._user.id)  # every message counts, even a malformed one
        except RateLimited as limited:
            await self._send(encode_error(None, limited.code, limited.message, retry_after=limited.retry_after))
            return
        try:
            message = parse_client_message(raw)
        except ProtocolError as error:
            await self._send(encode_error(error.msgid, error.code, error.message))
            return
        if isinstance(message, Stop):
            if not self._runtime.chat.stop(self._user.id, message.msgid):
                not_running = NotRunning(message.msgid)
                await self._send(encode_error(not_running.msgid, not_running.code, not_running.message))
            return
        try:
            generation = await self._runtime.chat.start(self._user, message.request)
        except ParleyError as error:
            await self._send(encode_error(message.msgid, error.code, error.message))
            return
        self._generations.add(generation)
        task = asyncio.create_task(self._forward(generation))
        self._forwarders.add(task)
        task.add_done_callback(self._forwarders.discard)

    async def _forward(self, generation: Generation) -> None:
        try:
            async for event in generation.events():
                await self._send(encode_event(event))
        except (WebSocketDisconnect, RuntimeError):
            generation.detach()  # the socket is gone; the answer is still finished and saved
        finally:
            self._generations.discard(generation)

    async def _send(self, text: str) -> None:
        async with self._send_lock:
            await self._ws.send_text(text)
