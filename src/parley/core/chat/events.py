"""Typed stream events. The edges frame them (SSE, WebSocket, PostToConnection); the core only emits them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class StreamEvent:
    type: ClassVar[str]
    msgid: str

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose (not dataclasses.asdict, which deep-copies): this runs for every token.
        return {"type": self.type, **vars(self)}


@dataclass(frozen=True)
class StartEvent(StreamEvent):
    """The answer begins. ``citations`` are the passages of attached documents it was given (known before its
    first token), each ``{file_id, file_name, passage_index, page, text}``; empty without any."""

    type: ClassVar[str] = "start"
    conversation_id: str
    message_id: str
    user_message_id: str
    model: str
    title: str
    citations: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "citations": list(self.citations)}


@dataclass(frozen=True)
class DeltaEvent(StreamEvent):
    """Text of the answer. ``seq`` is the answer's length in characters (Unicode code points) once ``text`` is
    added: a reader that has the answer up to some ``seq`` keeps only what comes after it, however the text was
    cut into deltas (coalesced by the AWS relay, or a catch-up after a resume)."""

    type: ClassVar[str] = "delta"
    seq: int
    text: str


@dataclass(frozen=True)
class DoneEvent(StreamEvent):
    type: ClassVar[str] = "done"
    finish_reason: str
    usage: dict[str, int] | None


@dataclass(frozen=True)
class ErrorEvent(StreamEvent):
    type: ClassVar[str] = "error"
    code: str
    message: str
