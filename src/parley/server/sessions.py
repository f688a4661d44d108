"""Open WebSockets follow the session that opened them: logging out, a new password or a disabled
account closes them (policy violation, 1008) within about half a second.

The session behind each socket is the one that asked for its ticket (the ticket store keeps it). One
sweep checks every session with open sockets at once, so the cost grows with the number of sessions,
not of sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from parley.core.auth.service import AuthService
from parley.core.store.base import SessionRef

log = logging.getLogger(__name__)

Close = Callable[[], Awaitable[None]]


class SessionWatcher:
    def __init__(self, auth: AuthService, *, interval: float = 0.5) -> None:
        self._auth = auth
        self._interval = interval
        self._sockets: dict[int, tuple[SessionRef, Close]] = {}
        self._next_id = 0

    def watch(self, session: SessionRef, close: Close) -> int:
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
            if not await self._auth.session_valid(session):
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
