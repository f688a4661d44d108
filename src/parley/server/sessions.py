"""Open WebSockets follow the session that opened them: logging out, a new password or a disabled
account closes them (policy violation, 1008) within about half a second.

A ticket is issued and redeemed by this same server, so the session behind each ticket is kept here,
in memory, for the minute a ticket lives. One sweep checks every session with open sockets at once,
so the cost grows with the number of sessions, not of sockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from parley.core.auth.service import AuthService, Principal

log = logging.getLogger(__name__)

Close = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Session:
    user_id: str
    jti: str
    token_version: int


class SessionWatcher:
    def __init__(self, auth: AuthService, *, interval: float = 0.5, ticket_ttl: float = 60.0) -> None:
        self._auth = auth
        self._interval = interval
        self._ticket_ttl = ticket_ttl
        self._tickets: dict[str, tuple[float, Session]] = {}
        self._sockets: dict[int, tuple[Session, Close]] = {}
        self._next_id = 0

    def remember_ticket(self, ticket: str, principal: Principal) -> None:
        now = time.monotonic()
        self._tickets = {key: entry for key, entry in self._tickets.items() if entry[0] > now}
        session = Session(principal.user.id, principal.claims.jti, principal.claims.token_version)
        self._tickets[_key(ticket)] = (now + self._ticket_ttl, session)

    def session_of(self, ticket: str) -> Session | None:
        entry = self._tickets.pop(_key(ticket), None)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def watch(self, session: Session, close: Close) -> int:
        self._next_id += 1
        self._sockets[self._next_id] = (session, close)
        return self._next_id

    def sockets_of(self, user_id: str) -> int:
        return sum(1 for session, _ in self._sockets.values() if session.user_id == user_id)

    def forget(self, handle: int) -> None:
        self._sockets.pop(handle, None)

    async def close_session(self, jti: str) -> None:
        """Close at once the sockets of a session that just ended here (logout)."""
        await self._close([handle for handle, (session, _) in self._sockets.items() if session.jti == jti])

    async def sweep(self) -> None:
        sessions = {session for session, _ in self._sockets.values()}
        ended = set()
        for session in sessions:
            if not await self._auth.session_valid(session.user_id, session.jti, session.token_version):
                ended.add(session)
        await self._close([handle for handle, (session, _) in self._sockets.items() if session in ended])

    async def _close(self, handles: list[int]) -> None:
        for handle in handles:
            entry = self._sockets.pop(handle, None)
            if entry is not None:
                try:
                    await entry[1]()
                except Exception:  # the socket may be closing already
                    log.debug("closing a socket of an ended session failed", exc_info=True)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("checking the sessions of open WebSockets failed")


def _key(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()
