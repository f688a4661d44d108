"""A message's content as typed parts, and their JSON shape in storage.

Stored as a JSON list of objects, each with a ``type`` discriminator: ``[{"type": "text", "text": "..."}]``.
Only text exists today; attachments and tool calls / results will be more types. A part of a type this
version does not know (written by a newer one) is kept as it was read and written back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class TextPart:
    text: str
    type: ClassVar[str] = "text"

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class OpaquePart:
    """A part of a type this version does not understand, kept whole so that nothing is lost on a rewrite."""

    type: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


ContentPart = TextPart | OpaquePart


def text_of(parts: Iterable[ContentPart]) -> str:
    """The text a person reads: the text parts, joined."""
    return "".join(part.text for part in parts if isinstance(part, TextPart))


def text_parts(text: str) -> tuple[ContentPart, ...]:
    """Plain text as parts (an empty text is no parts: an answer not yet begun)."""
    return (TextPart(text),) if text else ()


def parts_to_json(parts: Iterable[ContentPart]) -> str:
    return json.dumps([part.to_json() for part in parts], ensure_ascii=False, separators=(",", ":"))


def parts_from_json(raw: str) -> tuple[ContentPart, ...]:
    return parts_from_list(json.loads(raw))


def parts_from_list(data: Any) -> tuple[ContentPart, ...]:
    """Parts from their JSON shape, already parsed; ValueError when it is not a list of typed objects."""
    if not isinstance(data, list):
        raise ValueError("message parts must be a JSON list")
    return tuple(_part(item) for item in data)


def _part(item: Any) -> ContentPart:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise ValueError("a message part must be an object with a string type")
    if item["type"] == "text" and isinstance(item.get("text"), str) and set(item) == {"type", "text"}:
        return TextPart(item["text"])
    return OpaquePart(type=item["type"], data=item)
