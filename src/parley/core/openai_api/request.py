"""An OpenAI chat completions request, as the core sees it once the edge has parsed it."""

from __future__ import annotations

from dataclasses import dataclass

from parley.core.providers.base import ChatMessage

MAX_MESSAGES = 1000
MAX_STOP_SEQUENCES = 4  # as OpenAI
MAX_STOP_CHARS = 200


@dataclass(frozen=True)
class CompletionRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    include_usage: bool = False

    @property
    def last_user_text(self) -> str:
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")
