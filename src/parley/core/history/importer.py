"""Importing a file of conversations into a user's history, whatever its format.

The format is found by sniffing the file's content (``import_formats()``); its conversations are read one at a
time in a thread, and each is saved all or nothing: the conversation, its messages with ``insert_many``, its
current branch, and the record that it was imported (so the same conversation coming again is skipped). One that
cannot be saved is deleted again and reported by name with the reason, like one the format could not read.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from parley.core.history.imported import (
    ImportedConversation,
    ImportedMessage,
    ImportFormat,
    ImportItem,
    ImportLimits,
    MalformedConversation,
    import_formats,
)
from parley.core.history.read_position import read_position
from parley.core.store.base import (
    MAX_MESSAGE_ID_CHARS,
    ROLES,
    ConversationStore,
    ImportRecordStore,
    Message,
    MessageLog,
    MessageStatus,
    SkippedConversation,
)
from parley.errors import Conflict, InvalidInput

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 200
UNTITLED = "Imported conversation"
_UNKNOWN_MODEL = "imported"


@dataclass
class ImportProgress:
    bytes_total: int
    bytes_read: int = 0
    conversations_imported: int = 0
    duplicates: int = 0
    skipped: list[SkippedConversation] = field(default_factory=list)


ProgressCallback = Callable[[ImportProgress], Awaitable[None]]


class _Unsaveable(Exception):
    """A conversation that cannot be saved as it is; the message says why, in plain words."""


class HistoryImporter:
    def __init__(
        self,
        conversations: ConversationStore,
        messages: MessageLog,
        imports: ImportRecordStore,
        *,
        limits: ImportLimits | None = None,
        formats: Sequence[ImportFormat] | None = None,
    ) -> None:
        self._conversations = conversations
        self._messages = messages
        self._imports = imports
        self._limits = limits or ImportLimits()
        self._formats = formats

    async def detect(self, path: Path) -> ImportFormat:
        """The format the file is in; InvalidInput naming the formats accepted when it is in none of them."""
        formats = self._formats if self._formats is not None else import_formats()
        for candidate in formats:
            if await asyncio.to_thread(_sniffs, candidate, path):
                return candidate
        accepted = ", ".join(f.label for f in formats)
        raise InvalidInput(f"This is not a file Parley can import. It accepts: {accepted}.")

    async def run(
        self, user_id: str, path: Path, *, on_progress: ProgressCallback | None = None, report_every: float = 0.5
    ) -> ImportProgress:
        """Import every conversation of the file; InvalidInput when the file as a whole cannot be read (what was
        imported before the reader gave up stays, each conversation whole)."""
        progress = ImportProgress(bytes_total=(await asyncio.to_thread(path.stat)).st_size)
        source = await self.detect(path)
        items = source.read(path, self._limits)
        last_report = time.monotonic()
        try:
            while (item := await asyncio.to_thread(_next, items)) is not None:
                position = read_position(path)
                if position is not None:
                    progress.bytes_read = max(progress.bytes_read, min(position, progress.bytes_total))
                await self._take(user_id, item, progress)
                if on_progress is not None and time.monotonic() - last_report >= report_every:
                    await on_progress(progress)
                    last_report = time.monotonic()
            progress.bytes_read = progress.bytes_total
        finally:
            await asyncio.to_thread(_close, items)
            if on_progress is not None:  # also when the reader gave up: what was imported until then is told
                await on_progress(progress)
        return progress

    async def _take(self, user_id: str, item: ImportItem, progress: ImportProgress) -> None:
        if isinstance(item, MalformedConversation):
            progress.skipped.append(SkippedConversation(name=item.name, reason=item.reason))
            return
        try:
            saved = await self._save(user_id, item)
        except _Unsaveable as error:
            progress.skipped.append(SkippedConversation(name=_name(item), reason=str(error)))
            return
        if saved:
            progress.conversations_imported += 1
        else:
            progress.duplicates += 1

    async def _save(self, user_id: str, conversation: ImportedConversation) -> bool:
        """True when saved, False when it was imported before (and is still there)."""
        earlier = await self._imports.imported_as(user_id, conversation.source, conversation.source_id)
        if earlier is not None:
            if await self._conversations.get_conversation(user_id, earlier) is not None:
                return False
            await self._imports.forget_import(user_id, conversation.source, conversation.source_id)
        messages, leaf = _messages(conversation, self._limits)
        created = await self._conversations.create_conversation(
            user_id,
            _title(conversation.title),
            conversation.model or next((m.model for m in messages if m.model), None) or _UNKNOWN_MODEL,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
        )
        try:
            if not await self._messages.insert_many(user_id, created.id, messages):
                raise _Unsaveable("the conversation vanished while it was imported")
            if leaf is not None:
                await self._messages.set_current_leaf(user_id, created.id, leaf)
            recorded = await self._imports.record_import(
                user_id, conversation.source, conversation.source_id, created.id
            )
        except (InvalidInput, Conflict) as error:
            await self._discard(user_id, created.id)
            raise _Unsaveable(error.message) from None
        except BaseException:
            await self._discard(user_id, created.id)
            raise
        if not recorded:  # the same conversation was imported at the same time by another job
            await self._discard(user_id, created.id)
            return False
        return True

    async def _discard(self, user_id: str, conversation_id: str) -> None:
        # Shielded: a job cancelled half-way still leaves nothing half-imported behind.
        await asyncio.shield(self._conversations.delete_conversation(user_id, conversation_id))


def _sniffs(candidate: ImportFormat, path: Path) -> bool:
    try:
        return candidate.sniff(path)
    except (InvalidInput, OSError, ValueError):
        return False


def _next(items: Iterator[ImportItem]) -> ImportItem | None:
    return next(items, None)


def _close(items: Iterator[ImportItem]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _name(conversation: ImportedConversation) -> str:
    return _title(conversation.title) if conversation.title.strip() else conversation.source_id


def _title(title: str) -> str:
    return " ".join(title.split())[:MAX_TITLE_CHARS] or UNTITLED


def _valid_id(message_id: str) -> bool:
    return 0 < len(message_id) <= MAX_MESSAGE_ID_CHARS and "#" not in message_id and message_id.isprintable()


def _messages(conversation: ImportedConversation, limits: ImportLimits) -> tuple[list[Message], str | None]:
    """The conversation's messages as Parley keeps them, and its current leaf. The source's ids are kept when
    every one is a valid, unique Parley id (a conversation always gets a new id, and message ids are only
    unique within one), otherwise every message gets a new one."""
    imported = conversation.messages
    if len(imported) > limits.max_messages_per_conversation:
        raise _Unsaveable(f"it has more than {limits.max_messages_per_conversation:,} messages")
    source_ids = [m.source_id for m in imported]
    if len(set(source_ids)) != len(source_ids):
        # Two messages with one id: which is whose parent cannot be told, so the conversation is refused.
        raise _Unsaveable("two of its messages have the same id")
    keep = all(_valid_id(i) for i in source_ids)
    new_ids = {i: i if keep else uuid.uuid4().hex for i in source_ids}
    messages: list[Message] = []
    seen: set[str] = set()
    for position, item in enumerate(imported, 1):
        messages.append(_message(item, position, new_ids, seen))
        seen.add(item.source_id)
    with_children = {m.parent_id for m in messages}
    current = conversation.current_source_id
    if current in new_ids:
        leaf: str | None = new_ids[current]
    else:
        leaf = next((m.id for m in reversed(messages) if m.id not in with_children), None)
    return messages, leaf


def _message(item: ImportedMessage, position: int, new_ids: dict[str, str], seen: set[str]) -> Message:
    if item.role not in ROLES:
        raise _Unsaveable(f"message {position} has the role {item.role[:20]!r}, which Parley does not know")
    parent = item.parent_source_id
    if parent is not None and parent not in seen:
        if parent in new_ids:
            raise _Unsaveable(f"message {position} comes before its parent")
        parent = None  # its parent is not in the file: it starts the conversation
    # Nothing is generating an imported answer: one saved mid-stream is kept as interrupted.
    status = MessageStatus.INTERRUPTED if item.status is MessageStatus.STREAMING else item.status
    return Message(
        id=new_ids[item.source_id],
        conversation_id="",
        seq=0,
        role=item.role,
        parts=item.parts,
        status=status,
        created_at=item.created_at,
        updated_at=item.updated_at if item.updated_at is not None else item.created_at,
        parent_id=None if parent is None else new_ids[parent],
        model=item.model,
        params=item.params,
        finish_reason=item.finish_reason,
        prompt_tokens=item.prompt_tokens,
        completion_tokens=item.completion_tokens,
    )
