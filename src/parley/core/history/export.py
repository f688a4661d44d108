"""A user's history written out: one conversation as JSON or Markdown, or every conversation as a zip archive
streamed entry by entry (never held whole in memory). Formats in ``parley_format.py``."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import zipfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from parley.core.history import parley_format as fmt
from parley.core.store.base import Conversation, ConversationStore, Message, MessageLog

_PAGE = 100
_ROLE_HEADINGS = {"user": "User", "assistant": "Assistant", "system": "System", "tool": "Tool"}


@dataclass(frozen=True)
class ExportedFile:
    file_name: str  # safe to put in a Content-Disposition header or on a disk
    media_type: str
    content: bytes


def safe_file_name(title: str, extension: str) -> str:
    """A file name from a title: letters, digits and a few marks only (no path, no quotes, no control chars)."""
    stem = re.sub(r"[^A-Za-z0-9 ._-]+", "", title).strip(" .")[:80].strip()
    return f"{stem or 'conversation'}.{extension}"


class HistoryExport:
    def __init__(self, conversations: ConversationStore, messages: MessageLog, *, app_version: str) -> None:
        self._conversations = conversations
        self._messages = messages
        self._app_version = app_version

    async def conversation_json(self, user_id: str, conversation_id: str) -> ExportedFile | None:
        """Every branch of one conversation; None when it is not the user's."""
        found = await self._whole(user_id, conversation_id)
        if found is None:
            return None
        conversation, messages = found
        content = await asyncio.to_thread(_json_bytes, conversation, messages)
        return ExportedFile(safe_file_name(conversation.title, "json"), "application/json", content)

    async def conversation_markdown(self, user_id: str, conversation_id: str) -> ExportedFile | None:
        """The branch shown last, as Markdown; None when it is not the user's."""
        conversation = await self._conversations.get_conversation(user_id, conversation_id)
        path = await self._messages.path(user_id, conversation_id)
        everything = await self._messages.all_messages(user_id, conversation_id)
        if conversation is None or path is None or everything is None:
            return None
        text = markdown(conversation, path, has_other_branches=len(everything) > len(path))
        return ExportedFile(safe_file_name(conversation.title, "md"), "text/markdown; charset=utf-8", text.encode())

    async def archive(self, user_id: str) -> AsyncIterator[bytes]:
        """The zip of every conversation of the user, in pieces as they are written; the manifest comes last,
        so it lists exactly the conversations written."""
        sink = _Chunks()
        archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)
        files: list[str] = []
        async for conversation, messages in self._every_conversation(user_id):
            name = f"{fmt.CONVERSATIONS_DIR}{conversation.id}.json"
            await asyncio.to_thread(archive.writestr, name, _json_bytes(conversation, messages))
            files.append(name)
            yield sink.take()
        manifest = fmt.manifest_document(exported_at=time.time(), app_version=self._app_version, files=files)
        await asyncio.to_thread(archive.writestr, fmt.MANIFEST, json.dumps(manifest, indent=2) + "\n")
        await asyncio.to_thread(archive.close)
        yield sink.take()

    async def _every_conversation(self, user_id: str) -> AsyncIterator[tuple[Conversation, list[Message]]]:
        cursor: str | None = None
        while True:
            page = await self._conversations.list_conversations(user_id, _PAGE, cursor)
            for listed in page.items:
                found = await self._whole(user_id, listed.id)
                if found is not None:  # deleted meanwhile
                    yield found
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def _whole(self, user_id: str, conversation_id: str) -> tuple[Conversation, list[Message]] | None:
        conversation = await self._conversations.get_conversation(user_id, conversation_id)
        messages = await self._messages.all_messages(user_id, conversation_id)
        if conversation is None or messages is None:
            return None
        return conversation, messages


def _json_bytes(conversation: Conversation, messages: Sequence[Message]) -> bytes:
    document = fmt.conversation_document(conversation, messages)
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def markdown(conversation: Conversation, path: Sequence[Message], *, has_other_branches: bool) -> str:
    lines = [f"# {_one_line(conversation.title) or 'Conversation'}", ""]
    lines.append(f"*Exported from Parley on {fmt.iso(time.time())[:10]}; model {conversation.model}.*")
    if has_other_branches:
        lines.append("*This is the branch shown last; the other branches are in the JSON export.*")
    for message in path:
        heading = _ROLE_HEADINGS.get(message.role, message.role.title())
        if message.role == "assistant" and message.model:
            heading += f" ({message.model})"
        lines += ["", f"## {heading}", "", message.content.strip() or "*(no text)*"]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("#", "")


class _Chunks(io.RawIOBase):
    """A write-only, unseekable sink: ``zipfile`` then writes sizes after each entry instead of seeking back, and
    what it wrote so far is taken in pieces."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._pending += data
        return len(data)

    def take(self) -> bytes:
        taken = bytes(self._pending)
        self._pending.clear()
        return taken
