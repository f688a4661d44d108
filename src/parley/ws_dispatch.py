"""One policy for WebSocket connections, whichever edge carries them: the local server's ``/ws`` route and the
serverless WebSocket API's Lambda functions both admit connections and serve client messages through here, so
who may connect (origin, ticket, socket cap) and how each message is served (session check, rate limit, parsing,
then ``sendprompt`` / ``stop`` / ``resume``) cannot drift apart. What differs is behind two small interfaces: how
a socket is written to and closed (:class:`ClientSocket`), and how an action is carried out (:class:`ChatActions`:
in-process generations locally; SNS, the worker and the store on AWS).

Plain Python on purpose: the Lambda handlers import this and must stay light at cold start.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from parley.core.auth.sessions import SessionCheck
from parley.core.rate_limit import RateLimiter
from parley.core.store.base import SessionRef, User
from parley.errors import InvalidToken, ParleyError, RateLimited, RetryLater
from parley.server.browser_session import origin_matches
from parley.ws_protocol import (
    ProtocolError,
    Resume,
    SendPrompt,
    Stop,
    encode_error,
    parse_client_message,
)

if TYPE_CHECKING:  # the $connect route redeems tickets; the other routes never load the token libraries
    from parley.core.auth.service import TicketHolder


class Refusal(enum.Enum):
    """Why a connection may not open; each edge answers in its own terms (a close code, a handshake status)."""

    ORIGIN = "origin"  # a browser page of another origin
    TICKET = "ticket"  # unknown, used or expired ticket, or its session has ended
    TOO_MANY = "too_many"  # the user already holds max_sockets_per_user open connections


class ConnectionRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal


class ClientSocket(Protocol):
    """One open connection, as its edge writes to it."""

    async def send(self, frame: str) -> None: ...

    async def close_ended_session(self) -> None:
        """The session that opened it has ended: close it (and forget it)."""


class ChatActions(Protocol):
    """What an edge does for each action. A ParleyError raised is sent to the client as an error frame."""

    async def send_prompt(self, socket: ClientSocket, user: User, message: SendPrompt) -> None: ...

    async def stop(self, socket: ClientSocket, user: User, message: Stop) -> None:
        """Raises NotRunning when no such answer of the user's runs."""

    async def resume(self, socket: ClientSocket, user: User, message: Resume) -> None:
        """Send what the client missed of the answer, then the rest as it comes, or how it ended; NotFound when
        there is no such answer of the user's."""


class WebSocketPolicy:
    def __init__(
        self,
        *,
        sessions: SessionCheck,
        rate_limit: RateLimiter,
        allowed_origins: Iterable[str],
        max_sockets_per_user: int,
    ) -> None:
        self._sessions = sessions
        self._rate_limit = rate_limit
        self._allowed_origins = tuple(allowed_origins)
        self._max_sockets = max_sockets_per_user

    def origin_allowed(self, origin: str | None, host: str) -> bool:
        """Same-origin pages, listed origins, and non-browser clients (which send no Origin) may connect. With
        no origin listed, only a page of the socket's own host may (on AWS, none: the pages come from CloudFront)."""
        return origin is None or origin_matches(origin, host, self._allowed_origins)

    async def admit(
        self,
        *,
        origin: str | None,
        host: str,
        ticket: str,
        redeem: Callable[[str], Awaitable[TicketHolder]],
        open_sockets: Callable[[str], Awaitable[int]],
    ) -> TicketHolder:
        """The holder of the connection's single-use ticket, unless it may not connect (ConnectionRefused).
        ``open_sockets`` counts the user's connections already open (the new one not among them)."""
        if not self.origin_allowed(origin, host):
            raise ConnectionRefused(Refusal.ORIGIN)
        try:
            holder = await redeem(ticket)
        except InvalidToken:
            raise ConnectionRefused(Refusal.TICKET) from None
        if await open_sockets(holder.user.id) >= self._max_sockets:
            raise ConnectionRefused(Refusal.TOO_MANY)
        return holder

    async def dispatch(self, socket: ClientSocket, session: SessionRef | None, raw: str, actions: ChatActions) -> bool:
        """Serve one client message; False when the connection was closed because its session has ended (or it
        has none)."""
        # An ended session's sockets are closed by a sweep (locally) or the table's stream (AWS), but not at once:
        # a message that comes in between is not served either.
        user = await self._sessions.live_user(session) if session is not None else None
        if user is None:
            await socket.close_ended_session()
            return False
        try:
            await self._rate_limit.check(user.id)  # the same budget as HTTP requests; even a malformed message counts
        except RateLimited as limited:
            await socket.send(encode_error(None, limited.code, limited.message, retry_after=limited.retry_after))
            return True
        try:
            message = parse_client_message(raw)
        except ProtocolError as error:
            await socket.send(encode_error(error.msgid, error.code, error.message))
            return True
        try:
            if isinstance(message, SendPrompt):
                await actions.send_prompt(socket, user, message)
            elif isinstance(message, Stop):
                await actions.stop(socket, user, message)
            else:
                await actions.resume(socket, user, message)
        except ParleyError as error:
            retry_after = error.retry_after if isinstance(error, RetryLater) else None
            await socket.send(encode_error(message.msgid, error.code, error.message, retry_after=retry_after))
        return True
