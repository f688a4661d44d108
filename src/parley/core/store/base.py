"""Store interfaces and the records they return.

Every conversation and message method takes the owner's ``user_id`` and treats another user's
object as missing: authorization is part of the query, not a check that can be forgotten.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from parley.core.files.base import FileStore, PassageIndex
from parley.core.store.parts import ContentPart, text_of
from parley.errors import InvalidInput

# Who speaks in a message. A ``tool`` message carries what a tool returned (tools are still to come).
ROLES = frozenset({"system", "user", "assistant", "tool"})
MAX_MESSAGE_ID_CHARS = 64


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
    pending: bool = False  # signed up, waiting for an admin's approval: cannot log in
    email: str | None = None  # given at sign-up, for the admin who approves (never verified)


def new_user(
    username: str, password_hash: str, *, is_admin: bool = False, pending: bool = False, email: str | None = None
) -> User:
    """The record of an account about to be created: a new id, active, version 0."""
    return User(
        id=uuid.uuid4().hex,
        username=username,
        password_hash=password_hash,
        is_admin=is_admin,
        disabled=False,
        token_version=0,
        created_at=time.time(),
        pending=pending,
        email=email,
    )


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
    # The last message of the branch being shown and continued; None until the first message.
    current_leaf_id: str | None = None


@dataclass(frozen=True)
class ConversationPage:
    items: Sequence[Conversation]
    next_cursor: str | None


@dataclass(frozen=True)
class Message:
    """One message of a conversation's tree. Its id is opaque; ``parent_id`` is the message it follows (None for
    a first message), so an edit or a regenerated answer is a sibling, and nothing is ever overwritten by one.
    ``seq`` is the order of creation within the conversation (siblings are shown in it)."""

    id: str
    conversation_id: str
    seq: int
    role: str
    parts: tuple[ContentPart, ...]
    status: MessageStatus
    created_at: float
    updated_at: float
    parent_id: str | None = None
    model: str | None = None
    params: dict[str, Any] | None = None  # the generation parameters an answer was asked with
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    client_msgid: str | None = None

    @property
    def content(self) -> str:
        """The message's text (its text parts, joined)."""
        return text_of(self.parts)


def check_new_message(message: Message) -> None:
    """What every store asks of a message it is given whole (an import): a known role and an id it can key."""
    if message.role not in ROLES:
        raise InvalidInput(f"A message's role is one of {', '.join(sorted(ROLES))}.")
    if not 0 < len(message.id) <= MAX_MESSAGE_ID_CHARS or "#" in message.id or not message.id.isprintable():
        raise InvalidInput(f"A message id is 1 to {MAX_MESSAGE_ID_CHARS} printable characters, without '#'.")


class UserStore(Protocol):
    async def create_user(
        self,
        username: str,
        password_hash: str,
        *,
        is_admin: bool = False,
        pending: bool = False,
        email: str | None = None,
    ) -> User:
        """Conflict when the name is taken (case-insensitive)."""

    async def get_user_by_name(self, username: str) -> User | None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def list_users(self) -> list[User]: ...

    async def count_users(self) -> int: ...

    async def set_password_hash(self, user_id: str, password_hash: str, *, revoke_tokens: bool) -> None:
        """Store a new hash; with ``revoke_tokens`` every token issued before is invalid."""

    async def set_disabled(self, user_id: str, disabled: bool) -> None:
        """Disabling also invalidates every token issued before."""

    async def delete_user(self, user_id: str) -> bool: ...

    async def approve_user(self, user_id: str) -> bool:
        """A pending account may log in from now on; False when there is no such pending account."""


class SetupCodeStore(Protocol):
    """The one-time code whose holder may create the first account, an admin, while there is none. Only a hash of
    the code is kept."""

    async def put_setup_code(self, code_hash: str) -> None:
        """Make ``code_hash`` the code, replacing any earlier one."""

    async def setup_code_matches(self, code_hash: str) -> bool: ...

    async def create_first_admin(self, code_hash: str, username: str, password_hash: str) -> User | None:
        """Create the first account, an admin, and spend the code, as one step: of two callers holding the code,
        one gets the user and the other None. None too when ``code_hash`` is not the code or an account exists."""


class ConversationStore(Protocol):
    async def create_conversation(
        self, user_id: str, title: str, model: str, *, created_at: float | None = None, updated_at: float | None = None
    ) -> Conversation:
        """A new conversation with a new id; its times are now unless given (an import keeps the source's)."""

    async def get_conversation(self, user_id: str, conversation_id: str) -> Conversation | None: ...

    async def list_conversations(
        self, user_id: str, limit: int, cursor: str | None, *, title_contains: str | None = None
    ) -> ConversationPage:
        """Newest first (by last activity); ``cursor`` comes from a previous page of the same query."""

    async def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> Conversation | None: ...

    async def delete_conversation(self, user_id: str, conversation_id: str) -> bool: ...


class MessageLog(Protocol):
    """The messages of a user's conversations, kept as a tree: one record per message, each under its parent.

    Every method takes the owner's ``user_id`` and the conversation's id, and treats another user's
    conversation (or a message of another conversation) as missing.
    """

    async def append(
        self,
        user_id: str,
        conversation_id: str,
        *,
        parent_id: str | None,
        role: str,
        parts: Sequence[ContentPart],
        status: MessageStatus,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        client_msgid: str | None = None,
    ) -> Message | None:
        """Add a message under ``parent_id`` (None: a new first message), make it the conversation's current leaf
        and mark the conversation active. None when the conversation is not the user's or the parent is not a
        message of it."""

    async def update(
        self,
        user_id: str,
        conversation_id: str,
        message_id: str,
        *,
        parts: Sequence[ContentPart],
        status: MessageStatus,
        finish_reason: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> bool:
        """Save a message's content and status (an answer as it is generated); the reason and usage are kept
        when not given. False when there is no such message of the user's."""

    async def path(self, user_id: str, conversation_id: str, leaf_id: str | None = None) -> list[Message] | None:
        """The messages from the root to ``leaf_id`` (default: the conversation's current leaf), oldest first.
        None when the conversation is not the user's or the leaf is not a message of it."""

    async def children(self, user_id: str, conversation_id: str, message_id: str | None) -> list[Message] | None:
        """The messages directly under ``message_id`` (None: the first messages) in creation order; None when the
        conversation is not the user's."""

    async def all_messages(self, user_id: str, conversation_id: str) -> list[Message] | None:
        """Every message of every branch, in creation order; None when the conversation is not the user's."""

    async def set_current_leaf(self, user_id: str, conversation_id: str, message_id: str) -> bool:
        """Make ``message_id`` the message the conversation is shown and continued from; False when it is not a
        message of the user's conversation."""

    async def insert_many(self, user_id: str, conversation_id: str, messages: Sequence[Message]) -> bool:
        """Add messages as they are (ids, parents, timestamps, status and usage kept), all or none (an import).
        Parents come before their children; a parent is a message already there or one earlier in the list.
        The conversation's current leaf is not moved. False when the conversation is not the user's;
        InvalidInput for a parent that is missing, Conflict for an id already taken."""


@dataclass(frozen=True)
class SearchHit:
    """Where a query's words were found: a message (``message_id`` and ``role`` set) or a conversation's title
    (both None). ``snippet`` is plain text around the match; ``highlights`` are the ``[start, end)`` ranges of the
    matched words in it, counted in code points."""

    conversation_id: str
    title: str
    message_id: str | None
    role: str | None
    snippet: str
    highlights: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class SearchPage:
    items: Sequence[SearchHit]
    next_cursor: str | None


class SearchIndex(Protocol):
    """Words in the titles and messages of a user's conversations (``search_text.py`` says what a word is).

    The stores keep it up to date themselves as they write: a message is indexed once it is final (a user's
    message when written, an answer when it is complete, stopped, interrupted or an error; never while it
    streams), a title when it is set, and a deleted conversation leaves nothing behind. Only the owner's
    conversations are ever searched.
    """

    async def search(self, user_id: str, query: str, limit: int, cursor: str | None) -> SearchPage:
        """The hits with every word of ``query``, best first; ``cursor`` comes from the previous page of the
        same query. A query without words finds nothing; no query is ever an error."""


class PreferencesStore(Protocol):
    """A user's saved settings (model parameters, presets, theme), kept as one JSON document."""

    async def get_preferences(self, user_id: str) -> dict[str, Any] | None: ...

    async def put_preferences(self, user_id: str, preferences: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class SharedMessage:
    """One message of a share's snapshot: only what the public page shows (no ids, no owner, no usage)."""

    role: str
    parts: tuple[ContentPart, ...]
    model: str | None
    created_at: float

    @property
    def content(self) -> str:
        return text_of(self.parts)


@dataclass(frozen=True)
class Share:
    """A public, read-only snapshot of a conversation's current branch, as its owner lists it. Its token is
    never stored: only the token's SHA-256 (``token_hash``), by which the public page finds it."""

    id: str
    user_id: str
    conversation_id: str
    title: str
    created_at: float


@dataclass(frozen=True)
class SharedSnapshot:
    """What a share's link shows: the title and messages copied when it was made."""

    title: str
    messages: tuple[SharedMessage, ...]
    created_at: float


class ShareStore(Protocol):
    """Shares of a user's conversations. A share is a copy, so nothing done to the conversation afterwards changes
    it; deleting the conversation (or the user) deletes its shares, and revoking one deletes it."""

    async def create_share(self, share: Share, token_hash: str, messages: Sequence[SharedMessage]) -> bool:
        """Save a share; False (nothing written) when its conversation is not the owner's."""

    async def list_shares(self, user_id: str) -> list[Share]:
        """The user's shares, newest first."""

    async def delete_share(self, user_id: str, share_id: str) -> bool:
        """Revoke: the link stops working at once. False when the user has no such share."""

    async def get_snapshot(self, token_hash: str) -> SharedSnapshot | None:
        """The snapshot a link shows; None for a revoked share and for one that never existed alike."""


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


# How many connections may follow one answer besides the one that asked (each reload or second tab is one).
MAX_FOLLOWERS = 32


@dataclass(frozen=True)
class LiveSignals:
    """What other processes asked of a running answer: to stop it, and which connections follow it, each from
    the ``seq`` it had when it asked (``resume`` on another connection than the one that sent the prompt)."""

    stop_requested: bool = False
    followers: Mapping[str, int] = field(default_factory=dict)


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

    async def follow(self, user_id: str, msgid: str, connection_id: str, after_seq: int) -> bool:
        """Have ``connection_id`` follow a running answer of this user from ``after_seq`` (a connection already
        following it starts again from there). False when there is none running, or it has ``MAX_FOLLOWERS``."""

    async def signals(self, user_id: str, msgid: str) -> LiveSignals:
        """The stop flag and the followers of an answer, in one read (the worker asks between its posts)."""

    async def finish_generation(self, user_id: str, msgid: str) -> None:
        """The answer ended: it can no longer be stopped or followed, its slot is free, and its msgid stays taken
        until it expires."""


@dataclass(frozen=True)
class ApiKey:
    """A user's API key as stored: never the key itself, only its SHA-256 (``key_hash``) and a short ``prefix``
    that lets its owner recognise it in a list. ``name`` is unique among the user's keys not revoked."""

    id: str
    user_id: str
    name: str
    prefix: str
    key_hash: str
    created_at: float
    expires_at: float | None = None
    last_used_at: float | None = None
    revoked: bool = False
    save_conversations: bool = False


class ApiKeyStore(Protocol):
    async def create_key(self, key: ApiKey) -> None:
        """Store a new key; Conflict when the user has a key of that name (case-insensitive) not revoked."""

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not (one read: the only store call a request with a key makes)."""

    async def list_keys(self, user_id: str) -> list[ApiKey]:
        """The user's keys, revoked ones included, oldest first."""

    async def revoke_key(self, user_id: str, key_id: str) -> ApiKey | None:
        """Revoke the user's key (its name is free again); None when the user has no such key not revoked."""

    async def touch_key(self, key: ApiKey, used_at: float, *, unless_since: float) -> None:
        """Record a use, unless one was recorded at ``unless_since`` or later (a busy key writes once a minute)."""


class RequestRateStore(Protocol):
    """A token bucket per key, shared by every process that uses the store."""

    async def take(self, key: str, now: float, interval: float, burst: int) -> float:
        """Take one request from ``key``'s bucket, which holds ``burst`` requests and refills one every
        ``interval`` seconds; returns 0 when taken, otherwise the seconds until one could be."""


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class SkippedConversation:
    name: str
    reason: str


@dataclass(frozen=True)
class ImportJob:
    """One uploaded file being imported: where it stands, and what it has done so far."""

    id: str
    user_id: str
    file_name: str
    status: ImportStatus
    created_at: float
    updated_at: float
    bytes_total: int
    bytes_read: int = 0
    conversations_imported: int = 0
    duplicates: int = 0
    skipped: tuple[SkippedConversation, ...] = ()
    error: str | None = None  # why the whole file failed (status FAILED), in plain words


class ImportRecordStore(Protocol):
    """Which conversations of other apps (``source``, ``source_id``) a user has imported, and as which
    conversation: importing the same one again is skipped."""

    async def imported_as(self, user_id: str, source: str, source_id: str) -> str | None:
        """The id of the conversation it was imported as; None when it never was."""

    async def record_import(self, user_id: str, source: str, source_id: str, conversation_id: str) -> bool:
        """Remember an import, atomically; False when one is already recorded (another import won the race)."""

    async def forget_import(self, user_id: str, source: str, source_id: str) -> None:
        """Forget an import (its conversation was deleted since: importing it again is welcome)."""


class ImportJobStore(Protocol):
    """A user's import jobs; another user's job is missing."""

    async def create_job(self, user_id: str, file_name: str, bytes_total: int) -> ImportJob: ...

    async def get_job(self, user_id: str, job_id: str) -> ImportJob | None: ...

    async def list_jobs(self, user_id: str, limit: int) -> list[ImportJob]:
        """Newest first."""

    async def save_job(self, job: ImportJob) -> None:
        """Write a job's status and progress (only the job's own runner writes it)."""


@dataclass(frozen=True)
class UsageRecord:
    """The tokens one answer used. ``key_id`` is the API key it was asked with (None from the web app);
    ``estimated`` when the provider gave no figures and they were estimated (``core/usage/estimate.py``)."""

    user_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    estimated: bool
    source: str  # "app" or "api"
    created_at: float
    key_id: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class UsageHold:
    """The record that a reservation is held, kept beside the counter until the answer settles. If its process dies
    first (a killed worker, a crashed server), the hold expires at ``expires_at`` (later than any live answer can
    end) and whoever next reserves or reads the user's counter gives its tokens back."""

    id: str
    started_at: float
    expires_at: float


# How long a reclaimed hold is kept after it expired, so a late settle of it still finds it (no answer runs a day).
RECLAIMED_HOLD_KEPT_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class DailyUsage:
    """One user's totals for one model on one UTC day (``YYYY-MM-DD``)."""

    day: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    requests: int


class UsageStore(Protocol):
    """What each user's answers used, totalled per day and model, and each user's monthly token budget.

    A month's counter holds the tokens used in it plus those reserved by answers still running: a reservation is
    taken before an answer starts and replaced by what it used when it ends, so answers running in parallel
    cannot together overshoot a budget by more than one reservation.

    Each reservation leaves a hold (``UsageHold``) until it settles. An expired hold is an answer whose process
    died: ``reclaim_expired`` gives its tokens back (recording nothing used) and marks it reclaimed, so a settle
    that still comes (a slow worker) adds what the answer used without taking the reservation off twice; a hold
    settles once, and a second settle of it changes nothing.
    """

    async def reserve(self, user_id: str, month: str, tokens: int, hold: UsageHold | None = None) -> int | None:
        """Add ``tokens`` to the user's counter of ``month`` (``YYYY-MM``), atomically, unless the user has a
        budget and the counter has reached it: then nothing is added and the budget is returned. None when
        added (always, for a user without a budget). With ``hold``: first the user's holds expired at its
        ``started_at`` are reclaimed, and the hold is written with the increment, in the same atomic step."""

    async def settle(self, record: UsageRecord, month: str, reserved: int, hold_id: str | None = None) -> None:
        """In one write: save ``record`` and add it to its day's totals (unless it used no tokens at all), and
        replace the ``reserved`` tokens in the counter of ``month`` with the tokens it used. With ``hold_id``:
        only while that hold is there, deleting it in the same write (after it was reclaimed: only the tokens
        used are added); when it is gone (settled already), nothing at all."""

    async def reclaim_expired(self, user_id: str, now: float) -> int:
        """Give back the tokens of the user's holds expired at ``now``, each once however many callers race;
        the tokens given back by this call."""

    async def month_used(self, user_id: str, month: str) -> int:
        """The user's counter of ``month``: tokens used, and reserved by answers still running."""

    async def daily(self, user_id: str, first_day: str, last_day: str) -> list[DailyUsage]:
        """The user's totals per day and model from ``first_day`` to ``last_day`` (both included), by day then
        model."""

    async def get_budget(self, user_id: str) -> int | None:
        """The user's monthly token budget; None when there is none."""

    async def set_budget(self, user_id: str, monthly_tokens: int) -> None: ...

    async def clear_budget(self, user_id: str) -> bool:
        """Remove the user's budget; False when there was none."""


@dataclass(frozen=True)
class Stores:
    """Every store the core needs, built once by the composition root."""

    users: UserStore
    setup_codes: SetupCodeStore
    conversations: ConversationStore
    messages: MessageLog
    search: SearchIndex
    revoked_tokens: TokenRevocationStore
    tickets: TicketStore
    throttle: ThrottleStore
    preferences: PreferencesStore
    connections: ConnectionStore
    stop_signals: StopSignalStore
    request_rate: RequestRateStore
    api_keys: ApiKeyStore
    usage: UsageStore
    imports: ImportRecordStore
    import_jobs: ImportJobStore
    shares: ShareStore
    files: FileStore
    passages: PassageIndex
