"""What every import format reads a file into, and how formats are found.

A format (Parley's own export, ChatGPT's data export, Open WebUI's chat export...) turns a file on disk into a
stream of ``ImportedConversation`` (one whole conversation tree, in the source's own ids) or
``MalformedConversation`` (one the format could not read: reported by name and skipped). It knows nothing of
users or stores: the import service gives the messages new ids, skips what was imported before (by ``source`` and
``source_id``) and saves each conversation all or nothing.

Formats register themselves with ``@import_format``; the service asks each in turn whether it ``sniff``s the file,
by its content, never by its name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from parley.core.store.base import MessageStatus
from parley.core.store.parts import ContentPart


@dataclass(frozen=True)
class ImportedMessage:
    source_id: str  # the message's id in the source (unique within its conversation)
    parent_source_id: str | None  # None for a first message
    role: str  # "user", "assistant" or "system"
    parts: tuple[ContentPart, ...]
    created_at: float  # seconds since the epoch
    status: MessageStatus = MessageStatus.COMPLETE
    model: str | None = None
    params: dict[str, Any] | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    updated_at: float | None = None  # when it was last changed, if the source says; else its creation


@dataclass(frozen=True)
class ImportedConversation:
    source: str  # the format's name, e.g. "chatgpt"
    source_id: str  # the conversation's id in the source: importing the same one twice is skipped
    title: str
    created_at: float
    updated_at: float
    # Parents come before their children; a message whose parent is not in the list is a first message.
    messages: tuple[ImportedMessage, ...]
    current_source_id: str | None = None  # the message the source showed last (its current branch's leaf)
    model: str | None = None


@dataclass(frozen=True)
class MalformedConversation:
    name: str  # what the user would recognise: its title, or its position in the file
    reason: str  # why it was skipped, in plain words


ImportItem = ImportedConversation | MalformedConversation


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on what a file may make the reader do, so that a zip bomb or a JSON nested 10,000 deep is refused
    with a clear error (``InvalidInput``) instead of exhausting the server."""

    max_uncompressed_bytes: int = 2 * 1024**3
    max_compression_ratio: int = 200
    max_zip_entries: int = 100_000
    max_json_depth: int = 64
    max_messages_per_conversation: int = 100_000


class ImportFormat(Protocol):
    name: str  # stable: it is stored with every imported conversation as its ``source``
    label: str  # shown to people, e.g. "ChatGPT data export"

    def sniff(self, path: Path) -> bool:
        """Whether the file is in this format, judged by its content (cheaply: the first bytes, a zip's names)."""

    def read(self, path: Path, limits: ImportLimits) -> Iterator[ImportItem]:
        """The file's conversations, one at a time, without loading the whole file into memory. Raises
        ``InvalidInput`` when the file as a whole cannot be read (not this format after all, a zip bomb...)."""


_FORMATS: dict[str, Callable[[], ImportFormat]] = {}


def import_format(name: str) -> Callable[[Callable[[], ImportFormat]], Callable[[], ImportFormat]]:
    """Register a format's factory under its name (a class with a no-argument constructor will do)."""

    def register(factory: Callable[[], ImportFormat]) -> Callable[[], ImportFormat]:
        _FORMATS[name] = factory
        return factory

    return register


def import_formats() -> list[ImportFormat]:
    """Every registered format, built-in ones loaded first."""
    from parley.core.history import formats  # noqa: F401  (registers the built-in formats)

    return [factory() for factory in _FORMATS.values()]
