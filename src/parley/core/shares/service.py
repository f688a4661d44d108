"""Making, listing and revoking a user's share links, and reading one by its token (no login).

A link carries a token of 128 random bits; only its SHA-256 is stored, so a copy of the database holds no live
link. A revoked share and one that never existed are the same NotFound, with the same message.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from parley.core.store.base import (
    ConversationStore,
    Message,
    MessageLog,
    Share,
    SharedMessage,
    SharedSnapshot,
    ShareStore,
)
from parley.core.store.parts import TextPart
from parley.errors import Conflict, InvalidInput, NotFound

TOKEN_BYTES = 16  # 128 bits: guessing a live link is hopeless
# token_urlsafe's alphabet and lengths: anything else cannot be a token, and is not looked up.
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{22,64}$"  # noqa: S105 - the shape of a token, not one
_TOKEN = re.compile(TOKEN_PATTERN)
# What a share copies: the questions and answers the owner saw in the chat (no system or tool messages).
SHARED_ROLES = ("user", "assistant")
# A share is served whole, as one JSON answer, and on AWS a Lambda answer is at most 6 MB: 1 MB of text stays well
# under it however the JSON escapes it (a long conversation: about 150,000 words).
MAX_SNAPSHOT_BYTES = 1_000_000
MAX_SHARES_PER_USER = 500
NOT_FOUND = "This link was revoked or never existed."


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def share_path(token: str) -> str:
    """Where the web app shows a share, relative to the site's origin."""
    return f"/s/{token}"


@dataclass(frozen=True)
class NewShare:
    share: Share
    token: str  # given to the owner once, inside the link; never stored

    @property
    def path(self) -> str:
        return share_path(self.token)


def snapshot_of(path: Sequence[Message]) -> list[SharedMessage]:
    """The messages a share copies from a branch: what a person reads (the text of questions and answers)."""
    shared = []
    for message in path:
        if message.role not in SHARED_ROLES or not message.content:
            continue
        parts = tuple(part for part in message.parts if isinstance(part, TextPart))
        shared.append(SharedMessage(role=message.role, parts=parts, model=message.model, created_at=message.created_at))
    return shared


class ShareService:
    def __init__(
        self,
        conversations: ConversationStore,
        messages: MessageLog,
        shares: ShareStore,
        *,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(TOKEN_BYTES),
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._shares = shares
        self._clock = clock
        self._new_token = new_token

    async def create(self, user_id: str, conversation_id: str) -> NewShare:
        """Share the conversation's current branch as it is now."""
        conversation = await self._conversations.get_conversation(user_id, conversation_id)
        path = await self._messages.path(user_id, conversation_id)
        if conversation is None or path is None:
            raise NotFound("Conversation not found.")
        messages = snapshot_of(path)
        if not messages:
            raise InvalidInput("There is nothing to share yet: the conversation has no messages.")
        if sum(len(m.content.encode("utf-8")) for m in messages) > MAX_SNAPSHOT_BYTES:
            raise InvalidInput("This conversation is too long to share (over 1 MB of text).")
        if len(await self._shares.list_shares(user_id)) >= MAX_SHARES_PER_USER:
            raise Conflict(f"You have {MAX_SHARES_PER_USER} shared links. Revoke some before sharing more.")
        token = self._new_token()
        share = Share(
            id=uuid.uuid4().hex,
            user_id=user_id,
            conversation_id=conversation_id,
            title=conversation.title,
            created_at=self._clock(),
        )
        if not await self._shares.create_share(share, hash_token(token), messages):
            raise NotFound("Conversation not found.")  # deleted meanwhile
        return NewShare(share=share, token=token)

    async def list_shares(self, user_id: str) -> list[Share]:
        return await self._shares.list_shares(user_id)

    async def revoke(self, user_id: str, share_id: str) -> None:
        if not await self._shares.delete_share(user_id, share_id):
            raise NotFound("Shared link not found.")

    async def read(self, token: str) -> SharedSnapshot:
        """The snapshot behind a link; anyone holding the link may read it."""
        snapshot = await self._shares.get_snapshot(hash_token(token)) if _TOKEN.fullmatch(token) else None
        if snapshot is None:
            raise NotFound(NOT_FOUND)
        return snapshot
