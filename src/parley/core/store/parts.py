"""A message's content as typed parts, and their JSON shape in storage.

Stored as a JSON list of objects, each with a ``type`` discriminator: ``[{"type": "text", "text": "..."}]``.
A user message has its text, then a ``file`` part per attached file; an answer made with documents has its
text, then a ``citation`` part per passage it was given. Tool calls / results will be more types. A part of a type
this version does not know (written by a newer one) is kept as it was read and written back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar


@dataclass(frozen=True)
class TextPart:
    text: str
    type: ClassVar[str] = "text"

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class FilePart:
    """A file attached to a user message, as it was when attached (the file itself may be deleted later)."""

    file_id: str
    name: str
    kind: str  # "document" or "image"
    media_type: str
    size: int
    type: ClassVar[str] = "file"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "file",
            "file_id": self.file_id,
            "name": self.name,
            "kind": self.kind,
            "media_type": self.media_type,
            "size": self.size,
        }


@dataclass(frozen=True)
class CitationPart:
    """A passage of a document the answer was given to read."""

    file_id: str
    file_name: str
    passage_index: int
    text: str
    page: int | None = None
    type: ClassVar[str] = "citation"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "citation",
            "file_id": self.file_id,
            "file_name": self.file_name,
            "passage_index": self.passage_index,
            "page": self.page,
            "text": self.text,
        }


@dataclass(frozen=True)
class OpaquePart:
    """A part of a type this version does not understand, kept whole so that nothing is lost on a rewrite."""

    type: str
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


ContentPart = TextPart | FilePart | CitationPart | OpaquePart
_P = TypeVar("_P", TextPart, FilePart, CitationPart, OpaquePart)


def text_of(parts: Iterable[ContentPart]) -> str:
    """The text a person reads: the text parts, joined."""
    return "".join(part.text for part in parts if isinstance(part, TextPart))


def parts_of_type(parts: Iterable[ContentPart], kind: type[_P]) -> list[_P]:
    return [part for part in parts if isinstance(part, kind)]


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
    kind = item["type"]
    if kind == "text" and isinstance(item.get("text"), str) and set(item) == {"type", "text"}:
        return TextPart(item["text"])
    if kind == "file" and set(item) == _FILE_KEYS and _typed(item, _FILE_TYPES):
        return FilePart(item["file_id"], item["name"], item["kind"], item["media_type"], item["size"])
    if kind == "citation" and set(item) == _CITATION_KEYS and _typed(item, _CITATION_TYPES):
        return CitationPart(item["file_id"], item["file_name"], item["passage_index"], item["text"], item["page"])
    return OpaquePart(type=kind, data=item)


_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "file_id": (str,),
    "name": (str,),
    "kind": (str,),
    "media_type": (str,),
    "size": (int,),
}
_FILE_KEYS = {"type", *_FILE_TYPES}
_CITATION_TYPES: dict[str, tuple[type, ...]] = {
    "file_id": (str,),
    "file_name": (str,),
    "passage_index": (int,),
    "page": (int, type(None)),
    "text": (str,),
}
_CITATION_KEYS = {"type", *_CITATION_TYPES}


def _typed(item: Mapping[str, Any], types: Mapping[str, tuple[type, ...]]) -> bool:
    return all(isinstance(item[key], allowed) and not isinstance(item[key], bool) for key, allowed in types.items())
