"""Whether a login session still stands, from the store alone.

A session ends when its token is revoked (logout), the user gets a new password or is disabled (the token
version moves on), or the user is removed. Checking that needs no signing secret, so code that never sees a
token, such as the serverless WebSocket routes holding only the session a connection was opened with, can ask.
"""

from __future__ import annotations

import asyncio

from parley.core.store.base import SessionRef, Stores, User


class SessionCheck:
    def __init__(self, stores: Stores) -> None:
        self._revoked = stores.revoked_tokens
        self._users = stores.users

    async def live_user(self, session: SessionRef) -> User | None:
        """The session's user while the session stands; None once it has ended."""
        # Both reads at once: every request pays for this check, and neither depends on the other.
        revoked, user = await asyncio.gather(
            self._revoked.is_revoked(session.jti), self._users.get_user(session.user_id)
        )
        if revoked or user is None or user.disabled or user.pending or user.token_version != session.token_version:
            return None
        return user
