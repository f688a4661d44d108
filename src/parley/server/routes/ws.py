"""The WebSocket: opened with a single-use ticket, then sendprompt / stop / resume actions and streamed events.

Who may connect and how each message is served is ``parley.ws_dispatch`` (shared with the serverless edge); the
message protocol is ``parley.ws_protocol``. Here: the socket, and the answers generated in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from parley.core.chat.events import StreamEvent
from parley.core.chat.resume import SavedAnswer
from parley.core.store.base import SessionRef, User
from parley.errors import AnswerAbandoned
from parley.runtime import Runtime
from parley.server.sessions import SessionWatcher
from parley.server.ws_text import receive_text
from parley.ws_dispatch import ClientSocket, ConnectionRefused, Refusal, WebSocketPolicy
from parley.ws_protocol import NotRunning, Resume, SendPrompt, Stop, encode_error, encode_event

log = logging.getLogger(__name__)

router = APIRouter()

CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013
_CLOSE_REASONS = {Refusal.TICKET: "invalid or used ticket", Refusal.TOO_MANY: "too many open connections"}


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    policy: WebSocketPolicy = websocket.app.state.ws_policy
    sessions: SessionWatcher = websocket.app.state.sessions
    origin, host = websocket.headers.get("origin"), websocket.headers.get("host", "")
    if not policy.origin_allowed(origin, host):
        await websocket.close(code=CLOSE_POLICY_VIOLATION)  # before accept: the handshake gets a 403
        return
    await websocket.accept()

    async def open_sockets(user_id: str) -> int:
        return sessions.sockets_of(user_id)

    try:
        holder = await policy.admit(
            origin=origin,
            host=host,
            ticket=websocket.query_params.get("ticket", ""),
            redeem=runtime.auth.redeem_ticket,
            open_sockets=open_sockets,
        )
    except ConnectionRefused as refused:
        code = CLOSE_TRY_AGAIN_LATER if refused.refusal is Refusal.TOO_MANY else CLOSE_POLICY_VIOLATION
        await websocket.close(code=code, reason=_CLOSE_REASONS.get(refused.refusal, ""))
        return
    # The socket lives only as long as the session that asked for its ticket.
    handle = sessions.watch(
        holder.session, lambda: websocket.close(code=CLOSE_POLICY_VIOLATION, reason="session ended")
    )
    try:
        await ChatConnection(websocket, holder.session, runtime, policy).serve()
    finally:
        sessions.forget(handle)


class ChatConnection:
    """One authenticated socket: its messages go through the policy; it carries out their actions with the
    answers generated in this process, forwarding each answer's events as they come."""

    def __init__(self, websocket: WebSocket, session: SessionRef, runtime: Runtime, policy: WebSocketPolicy) -> None:
        self._ws = websocket
        self._session = session
        self._runtime = runtime
        self._policy = policy
        self._send_lock = asyncio.Lock()
        self._forwarders: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        try:
            while (raw := await receive_text(self._ws)) is not None:
                if not await self._policy.dispatch(self, self._session, raw, self):
                    return
        except WebSocketDisconnect:
            pass
        finally:
            for task in self._forwarders:
                task.cancel()

    # ClientSocket

    async def send(self, frame: str) -> None:
        async with self._send_lock:
            await self._ws.send_text(frame)

    async def close_ended_session(self) -> None:
        with contextlib.suppress(RuntimeError):  # the session watcher may have closed it just now
            await self._ws.close(code=CLOSE_POLICY_VIOLATION, reason="session ended")

    # ChatActions

    async def send_prompt(self, socket: ClientSocket, user: User, message: SendPrompt) -> None:
        generation = await self._runtime.chat.start(user, message.request)
        self._forward(generation.events(), generation.detach)

    async def stop(self, socket: ClientSocket, user: User, message: Stop) -> None:
        if not self._runtime.chat.stop(user.id, message.msgid):
            raise NotRunning(message.msgid)

    async def resume(self, socket: ClientSocket, user: User, message: Resume) -> None:
        joined = await self._runtime.chat.resume(user.id, message.conversation_id, message.msgid, message.after_seq)
        if isinstance(joined, SavedAnswer):
            for event in joined.events:
                await self.send(encode_event(event))
            if not joined.ended:  # saved as streaming, yet no process here runs it: it is not coming back
                gone = AnswerAbandoned()
                await self.send(encode_error(message.msgid, gone.code, gone.message))
            return
        self._forward(joined.events(), joined.close)

    def _forward(self, events: AsyncIterator[StreamEvent], let_go: Callable[[], None]) -> None:
        task = asyncio.create_task(self._relay(events, let_go))
        self._forwarders.add(task)
        task.add_done_callback(self._forwarders.discard)

    async def _relay(self, events: AsyncIterator[StreamEvent], let_go: Callable[[], None]) -> None:
        """Send an answer's events until it ends; if the socket goes, the answer is still finished and saved."""
        try:
            async for event in events:
                await self.send(encode_event(event))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            let_go()  # queue nothing more for this socket
