"""Store interfaces and the records they return.

Every conversation and message method takes the owner's ``user_id`` and treats another user's
object as missing: authorization is part of the query, not a check that can be forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class MessageStatus(StrEnum):
    COMPLETE = "complete"  # a user message, or an answer that finished
    STREAMING = "streaming"  # an answer still being generated
    STOPPED = "stopped"  # the user stopped it; what was generated is kept
    INTERRUPTED = "interrupted"  # the provider broke off mid-answer; the partial answer is kept
    ERROR = "error"  # the provider failed before answering anything


@dataclass(frozen=True)
class User:
    id: str
    username: str
    password_hash: str
    is_admin: bool
    disabled: bool
    token_version: int
    created_at: float


@dataclass(frozen=True)
class SessionRef:
    """One login session, as a WebSocket ticket and connection remember it: whose it is, its token's ``jti``
    (logout revokes that), and the token version it was issued under (a new password or disabling raises it)."""

    user_id: str
    jti: str
    token_version: int


@dataclass(frozen=True)
class Conversation:
    id: str
    user_id: str
    title: str
    model: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ConversationPage:
    items: Sequence[Conversation]
    next_cursor: str | None


@dataclass(frozen=True)
class Message:
    id: str
    conversation_id: str
    seq: int
    role: str
    content: str
    status: MessageStatus
    created_at: float
    updated_at: float
    model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    client_msgid: str | None = None


class UserStore(Protocol):
    async def create_user(self, username: str, password_hash: str, *, is_admin: bool = False) -> User: ...

    async def get_user_by_name(self, username: str) -> User | None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def list_users(self) -> list[User]: ...

    async def count_users(self) -> int: ...

    async def set_password_hash(self, user_id: str, password_hash: str, *, revoke_tokens: bool) -> None:
        """Store a new hash; with ``revoke_tokens`` every token issued before is invalid."""

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        """Disabling also invalidates every token issued before."""

    async def delete_user(self, user_id: str) -> bool: ...


class ConversationStore(Protocol):
    async def create_conversation(self, user_id: str, title: str, model: str) -> Conversation: ...

    async def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None: ...

    async def list_conversations(
        self, user_id: str, limit: int, cursor: str | None, *, title_contains: str | None = None
    ) -> ConversationPage:
        """Newest first (by last activity); ``cursor`` comes from a previous page of the same query."""

    async def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> Conversation | None: ...

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool: ...

    async def add_message(
        self,
        user_id: str,
        conversation_id: str,
        *,
        role: str,
        content: str,
        status: MessageStatus,
        model: str | None = None,
        client_msgid: str | None = None,
    ) -> Message | None:
        """Append a message and mark the conversation active; None when the conversation is not the user's."""

    async def update_message(
        self,
        message_id: str,
        *,
        content: str,
        status: MessageStatus,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> None: ...

    async def list_messages(self, user_id: str, conversation_id: str) -> list[Message] | None:
        """All messages in order; None when the conversation is not the user's."""

    async def truncate_from(self, user_id: str, conversation_id: str, message_id: str) -> Message | None:
        """Delete ``message_id`` and every later message (to edit and resend); returns the deleted message,
        None when it is not a message of the user's conversation."""

    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        """The newest ``limit`` messages, returned oldest first (for assembling model context)."""


class PreferencesStore(Protocol):
    """A user's saved settings (model parameters, presets, theme), kept as one JSON document."""

    async def get_preferences(self, user_id: str) -> dict[str, Any] | None: ...

    async def put_preferences(self, user_id: str, preferences: dict[str, Any]) -> None: ...


class TokenRevocationStore(Protocol):
    async def revoke(self, jti: str, expires_at: float, *, user_id: str) -> None:
        """Refuse the token ``jti`` (of ``user_id``, so the serverless edge can find its sockets) until it expires."""

    async def is_revoked(self, jti: str) -> bool: ...


class TicketStore(Protocol):
    async def put_ticket(self, ticket_hash: str, session: SessionRef, expires_at: float) -> None: ...

    async def take_ticket(self, ticket_hash: str, now: float) -> SessionRef | None:
        """Consume a ticket atomically: the session that asked for it the first time before expiry, None ever after."""


class ThrottleStore(Protocol):
    """Login attempts counted per key in fixed windows. There is no way to read a count without adding to
    it: a throttle that checked first and counted later would let a burst of parallel attempts through."""

    async def hit(self, key: str, now: float, window_seconds: float) -> tuple[int, float]:
        """Count one attempt, atomically, and return the count in the current window (this one included) and
        when that window ends; a window begins at the first attempt after the last one ended."""

    async def refund(self, key: str, now: float) -> None:
        """Take back one attempt counted in the current window (it turned out to be a right password)."""

    async def clear(self, key: str) -> None: ...


class ConnectionStore(Protocol):
    """Open WebSocket connections (the serverless edge keeps them between Lambda invocations)."""

    async def put_connection(self, connection_id: str, session: SessionRef, expires_at: float) -> None:
        """Record an open connection and the session whose ticket opened it."""

    async def get_connection(self, connection_id: str) -> SessionRef | None:
        """The session that opened the connection; None if it is unknown, expired, or recorded without one."""

    async def delete_connection(self, connection_id: str) -> None: ...

    async def user_connections(self, user_id: str, *, jti: str | None = None) -> list[str]:
        """The user's open connections; with ``jti``, only those opened by that session."""


class Registration(StrEnum):
    """What ``register_generation`` did with a new answer."""

    STARTED = "started"  # recorded, holding one of the user's slots
    DUPLICATE = "duplicate"  # this user's msgid is already recorded (a double click or a retry)
    AT_CAPACITY = "at_capacity"  # every one of the user's slots is held by a running answer


class StopSignalStore(Protocol):
    """Every answer by (user, msgid) until it expires: a msgid sent twice is answered once, a user runs
    at most ``max_running`` answers at once, and a stop request reaches an answer running in another
    process than the one that receives ``stop``. Every process sharing the store shares these limits."""

    async def register_generation(
        self, user_id: str, msgid: str, expires_at: float, *, max_running: int, lease_until: float
    ) -> Registration:
        """Record a new answer in one of the user's ``max_running`` slots, atomically. The msgid stays taken
        until ``expires_at``; the slot is held until the answer finishes, or at the latest until
        ``lease_until`` (a process that dies mid-answer never reports its end). Nothing is written unless
        the answer is STARTED; DUPLICATE is reported before AT_CAPACITY."""

    async def request_stop(self, user_id: str, msgid: str) -> bool:
        """Flag a running answer of this user; False when there is none."""

    async def stop_requested(self, user_id: str, msgid: str) -> bool: ...

    async def finish_generation(self, user_id: str, msgid: str) -> None:
        """The answer ended: it can no longer be stopped, its slot is free, and its msgid stays taken until
        it expires."""


class RequestRateStore(Protocol):
    """A token bucket per key, shared by every process that uses the store."""

    async def take(self, key: str, now: float, interval: float, burst: int) -> float:
        """Take one request from ``key``'s bucket, which holds ``burst`` requests and refills one every
        ``interval`` seconds; returns 0 when taken, otherwise the seconds until one could be."""


@dataclass(frozen=True)
class Stores:
    """Every store the core needs, built once by the composition root."""

    users: UserStore
    conversations: ConversationStore
    revoked_tokens: TokenRevocationStore
    tickets: TicketStore
    throttle: ThrottleStore
    preferences: PreferencesStore
    connections: ConnectionStore
    stop_signals: StopSignalStore
    request_rate: RequestRateStore
