"""Parley's own export format, version 1: one conversation as a JSON document, and an archive's manifest.

A conversation::

    {"format": "parley-conversation", "version": 1, "id", "title", "model", "created_at", "updated_at",
     "current_leaf_id", "messages": [{"id", "parent_id", "role", "parts", "status", "created_at", "updated_at",
     "model", "params", "finish_reason", "usage": {"prompt_tokens", "completion_tokens"} | null}, ...]}

Times are ISO 8601 UTC strings with microseconds; messages come in creation order (parents first), every branch;
``parts`` is the stored parts' JSON list, unchanged (types this version does not know included). An archive is a
zip of ``conversations/<id>.json`` files and a ``manifest.json``:
``{"format": "parley-export", "version": 1, "exported_at", "app_version", "conversations": N, "files": [...]}``.

The writer and the reader live here together, so that the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from parley.core.history.imported import ImportedConversation, ImportedMessage
from parley.core.store.base import Conversation, Message, MessageStatus
from parley.core.store.parts import parts_from_list

CONVERSATION_FORMAT = "parley-conversation"
ARCHIVE_FORMAT = "parley-export"
VERSION = 1  # the newest version this Parley writes and reads
MANIFEST = "manifest.json"
CONVERSATIONS_DIR = "conversations/"


class NotReadable(ValueError):
    """A document that is not a Parley conversation this version can read; the message says why, in plain words."""


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def from_iso(text: Any) -> float:
    if not isinstance(text, str):
        raise NotReadable("a time is not a string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise NotReadable(f"{text[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def conversation_document(conversation: Conversation, messages: Sequence[Message]) -> dict[str, Any]:
    return {
        "format": CONVERSATION_FORMAT,
        "version": VERSION,
        "id": conversation.id,
        "title": conversation.title,
        "model": conversation.model,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "current_leaf_id": conversation.current_leaf_id,
        "messages": [_message_document(message) for message in messages],
    }


def _message_document(message: Message) -> dict[str, Any]:
    has_usage = message.prompt_tokens is not None or message.completion_tokens is not None
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": message.role,
        "parts": [part.to_json() for part in message.parts],
        "status": message.status.value,
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
        "model": message.model,
        "params": message.params,
        "finish_reason": message.finish_reason,
        "usage": (
            {"prompt_tokens": message.prompt_tokens, "completion_tokens": message.completion_tokens}
            if has_usage
            else None
        ),
    }


def manifest_document(*, exported_at: float, app_version: str, files: Sequence[str]) -> dict[str, Any]:
    return {
        "format": ARCHIVE_FORMAT,
        "version": VERSION,
        "exported_at": iso(exported_at),
        "app_version": app_version,
        "conversations": len(files),
        "files": list(files),
    }


def check_version(document: Any, expected_format: str) -> None:
    """NotReadable unless ``document`` is ``expected_format`` in a version this Parley understands."""
    if not isinstance(document, dict) or document.get("format") != expected_format:
        raise NotReadable(f"it is not a {expected_format} document")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise NotReadable("its format version is missing or not a number")
    if version > VERSION:
        raise NotReadable(
            f"it was written by a newer Parley (format version {version}); this one reads version {VERSION}:"
            " upgrade Parley to import it"
        )


def read_conversation_document(document: Any) -> ImportedConversation:
    """The conversation a document holds; NotReadable (with the reason) when it is not one."""
    check_version(document, CONVERSATION_FORMAT)
    messages = document.get("messages")
    if not isinstance(messages, list):
        raise NotReadable("it has no list of messages")
    return ImportedConversation(
        source="parley",
        source_id=_text(document, "id"),
        title=_text(document, "title", allow_empty=True),
        created_at=from_iso(document.get("created_at")),
        updated_at=from_iso(document.get("updated_at")),
        messages=tuple(_read_message(item, position) for position, item in enumerate(messages, 1)),
        current_source_id=_optional_text(document, "current_leaf_id"),
        model=_optional_text(document, "model"),
    )


def _read_message(item: Any, position: int) -> ImportedMessage:
    if not isinstance(item, dict):
        raise NotReadable(f"message {position} is not an object")
    try:
        parts = parts_from_list(item.get("parts"))
        status = MessageStatus(str(item.get("status")))
    except ValueError as error:
        raise NotReadable(f"message {position}: {error}") from None
    usage = item.get("usage")
    if usage is not None and not isinstance(usage, dict):
        raise NotReadable(f"message {position}: usage is not an object")
    params = item.get("params")
    if params is not None and not isinstance(params, dict):
        raise NotReadable(f"message {position}: params is not an object")
    return ImportedMessage(
        source_id=_text(item, "id"),
        parent_source_id=_optional_text(item, "parent_id"),
        role=_text(item, "role"),
        parts=parts,
        created_at=from_iso(item.get("created_at")),
        updated_at=from_iso(item.get("updated_at")),
        status=status,
        model=_optional_text(item, "model"),
        params=params,
        finish_reason=_optional_text(item, "finish_reason"),
        prompt_tokens=_count(usage, "prompt_tokens"),
        completion_tokens=_count(usage, "completion_tokens"),
    )


def _text(document: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = document.get(key)
    if not isinstance(value, str) or (not value and not allow_empty):
        raise NotReadable(f"its {key} is missing or not text")
    return value


def _optional_text(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise NotReadable(f"its {key} is not text")
    return value


def _count(usage: dict[str, Any] | None, key: str) -> int | None:
    value = None if usage is None else usage.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise NotReadable(f"{key} is not a count")
    return value
