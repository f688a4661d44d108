"""Accounts, login, sessions and WebSocket tickets."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from parley.core.auth.passwords import PasswordHasher
from parley.core.auth.sessions import SessionCheck
from parley.core.auth.throttle import LoginThrottle
from parley.core.auth.tokens import TokenClaims, TokenCodec
from parley.core.auth.validation import (
    MAX_PASSWORD_CHARS,
    USERNAME_PATTERN,
    validate_password,
    validate_username,
)
from parley.core.store.base import SessionRef, Stores, User
from parley.errors import AccountPending, InvalidCredentials, InvalidInput, InvalidToken, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: float
    user: User


@dataclass(frozen=True)
class Principal:
    """Who a request is from: the user, and the claims of the token that proved it."""

    user: User
    claims: TokenClaims

    @property
    def session(self) -> SessionRef:
        return SessionRef(user_id=self.user.id, jti=self.claims.jti, token_version=self.claims.token_version)


@dataclass(frozen=True)
class TicketHolder:
    """Whom a redeemed WebSocket ticket lets in: the user, and the session that asked for the ticket."""

    user: User
    session: SessionRef


def _ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class AuthService:
    def __init__(
        self,
        stores: Stores,
        *,
        hasher: PasswordHasher,
        codec: TokenCodec,
        throttle: LoginThrottle,
        ticket_ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        before_remove: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """``before_remove(user_id)`` runs before an account is deleted: what the user keeps outside the store
        (attached files' bytes) goes first, so a failure leaves an account that can be removed again."""
        self._users = stores.users
        self._before_remove = before_remove
        self._revoked = stores.revoked_tokens
        self._tickets = stores.tickets
        self._sessions = SessionCheck(stores)
        self._hasher = hasher
        self._codec = codec
        self._throttle = throttle
        self._ticket_ttl = ticket_ttl_seconds
        self._clock = clock

    # Sessions

    async def login(self, username: str, password: str, client_address: str | None) -> Session:
        """A session for valid credentials; one error for unknown user, wrong password or disabled account."""
        # Counted before the password is checked, so parallel guesses cannot all slip under the limit.
        attempt = await self._throttle.attempt(username, client_address)
        user = await self._users.get_user_by_name(username) if USERNAME_PATTERN.fullmatch(username) else None
        candidate = password[:MAX_PASSWORD_CHARS]
        valid = await self._hasher.verify(user.password_hash if user else None, candidate)
        if user is None or not valid or user.disabled:
            raise attempt.refusal() or InvalidCredentials()
        await self._throttle.succeeded(attempt)
        if user.pending:  # told only to whoever knows the password
            raise AccountPending()
        if self._hasher.needs_rehash(user.password_hash):
            await self._users.set_password_hash(user.id, await self._hasher.hash(candidate), revoke_tokens=False)
        token, claims = self._codec.issue(user.id, user.token_version, now=self._clock())
        log.info("login: user %s", user.username)
        return Session(token=token, expires_at=claims.expires_at, user=user)

    async def authenticate(self, token: str) -> Principal:
        """The principal behind a session token; InvalidToken if forged, expired, revoked or superseded."""
        claims = self._codec.decode(token)
        user = await self._live_user(SessionRef(claims.user_id, claims.jti, claims.token_version))
        if user is None:
            raise InvalidToken()
        return Principal(user=user, claims=claims)

    async def session_valid(self, session: SessionRef) -> bool:
        """Whether a session still stands: not logged out, the user neither disabled nor given a new password."""
        return await self._live_user(session) is not None

    async def _live_user(self, session: SessionRef) -> User | None:
        return await self._sessions.live_user(session)

    async def logout(self, principal: Principal) -> None:
        await self._revoked.revoke(principal.claims.jti, principal.claims.expires_at, user_id=principal.user.id)
        log.info("logout: user %s", principal.user.username)

    # WebSocket tickets: single use, short-lived, so the session token never travels in a URL.

    async def issue_ticket(self, principal: Principal) -> tuple[str, int]:
        ticket = secrets.token_urlsafe(32)
        await self._tickets.put_ticket(_ticket_hash(ticket), principal.session, self._clock() + self._ticket_ttl)
        return ticket, self._ticket_ttl

    async def redeem_ticket(self, ticket: str) -> TicketHolder:
        """The ticket's holder, once; InvalidToken if it is unknown, used, expired, or its session has ended."""
        session = await self._tickets.take_ticket(_ticket_hash(ticket), self._clock())
        user = await self._live_user(session) if session else None
        if session is None or user is None:
            raise InvalidToken()
        return TicketHolder(user=user, session=session)

    # Accounts

    async def create_user(self, username: str, password: str, *, is_admin: bool = False) -> User:
        validate_username(username)
        validate_password(password)
        return await self._users.create_user(username, await self._hasher.hash(password), is_admin=is_admin)

    async def change_password(self, username: str, new_password: str) -> None:
        """Sets a new password and revokes every token the user holds."""
        validate_password(new_password)
        user = await self._require_user(username)
        await self._users.set_password_hash(user.id, await self._hasher.hash(new_password), revoke_tokens=True)

    async def set_disabled(self, username: str, disabled: bool) -> None:
        user = await self._require_user(username)
        await self._users.set_disabled(user.id, disabled)

    async def remove_user(self, username: str) -> None:
        user = await self._require_user(username)
        await self._delete(user)

    async def approve_user(self, username: str) -> None:
        """Let a signed-up account log in."""
        user = await self._require_pending(username)
        await self._users.approve_user(user.id)

    async def reject_user(self, username: str) -> None:
        """Remove a signed-up account that was never approved."""
        user = await self._require_pending(username)
        await self._delete(user)

    async def _delete(self, user: User) -> None:
        if self._before_remove is not None:
            await self._before_remove(user.id)
        await self._users.delete_user(user.id)

    async def _require_pending(self, username: str) -> User:
        user = await self._require_user(username)
        if not user.pending:
            raise InvalidInput(f"{user.username} is not waiting for approval.")
        return user

    async def _require_user(self, username: str) -> User:
        user = await self._users.get_user_by_name(username)
        if user is None:
            raise NotFound(f"No user named {username!r}.")
        return user
