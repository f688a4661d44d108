"""An in-process provider for tests: enqueue canned answers, read back what it was asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from parley.core.providers.base import (
    ChatMessage,
    Chunk,
    FinishChunk,
    GenerationParams,
    ModelInfo,
    TextChunk,
    Usage,
    UsageChunk,
)
from parley.errors import ProviderError


@dataclass
class Reply:
    """One scripted answer: ``tokens`` streamed with ``delay`` between them, then ``error`` if set."""

    tokens: Sequence[str] = ("Hello", " there", "!")
    delay: float = 0.0
    error: ProviderError | None = None
    error_after: int | None = None  # raise after this many tokens (None: after all, if error is set)
    hang_after: int | None = None  # wait forever after this many tokens
    finish_reason: str = "stop"


@dataclass
class Call:
    model: str
    messages: list[ChatMessage]
    params: GenerationParams


@dataclass
class MockProvider:
    name: str = "mock"
    models: Sequence[str] = ("mock-model",)
    vision_models: Sequence[str] = ()  # offered after ``models``; these take images
    context_window: int = 8192
    replies: list[Reply] = field(default_factory=list)
    history: list[Call] = field(default_factory=list)
    closed_streams: int = 0

    def enqueue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(id=m, provider=self.name, context_window=self.context_window, vision=m in self.vision_models)
            for m in (*self.models, *self.vision_models)
        ]

    async def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
        self.history.append(Call(model=model, messages=list(messages), params=params))
        reply = self.replies.pop(0) if self.replies else Reply()
        try:
            for index, token in enumerate(reply.tokens):
                if reply.error is not None and reply.error_after == index:
                    raise reply.error
                if reply.hang_after == index:
                    await asyncio.Event().wait()
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                yield TextChunk(token)
            if reply.error is not None:
                raise reply.error
            yield FinishChunk(reply.finish_reason)
            yield UsageChunk(
                Usage(prompt_tokens=sum(len(m.content) for m in messages), completion_tokens=len(reply.tokens))
            )
        finally:
            self.closed_streams += 1

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
