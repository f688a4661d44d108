"""The wait for each chunk after the first is limited (``UpstreamPolicy.idle_timeout``), however long the whole
answer takes and however slowly its reader takes the chunks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

import pytest

from parley.core.chat.upstream import UpstreamPolicy, stream_with_policy
from parley.core.providers.base import ChatMessage, Chunk, GenerationParams, TextChunk
from parley.errors import ProviderTimeout

IDLE = 0.15
POLICY = UpstreamPolicy(retries=0, base_delay=0, first_chunk_timeout=5, idle_timeout=IDLE)
PARAMS = GenerationParams(temperature=0.5, top_p=1.0, max_tokens=10, frequency_penalty=0, presence_penalty=0)


class PacedProvider:
    """Yields one chunk after each of ``gaps`` seconds."""

    name = "paced"

    def __init__(self, gaps: Sequence[float]) -> None:
        self.gaps = gaps
        self.closed = False

    async def stream(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncGenerator[Chunk, None]:
        try:
            for i, gap in enumerate(self.gaps):
                await asyncio.sleep(gap)
                yield TextChunk(f"t{i}")
        finally:
            self.closed = True


async def read(provider: PacedProvider, *, pause: float = 0.0) -> list[str]:
    got: list[str] = []
    stream = stream_with_policy(provider, "m", [ChatMessage("user", "hi")], PARAMS, POLICY)  # type: ignore[arg-type]
    async for chunk in stream:
        assert isinstance(chunk, TextChunk)
        got.append(chunk.text)
        await asyncio.sleep(pause)
    return got


async def test_gaps_under_the_limit_pass_however_long_the_answer() -> None:
    gaps = [0.0] + [IDLE / 3] * 12  # the whole answer takes over 3 idle limits
    assert await read(PacedProvider(gaps)) == [f"t{i}" for i in range(13)]


async def test_a_gap_over_the_limit_is_a_timeout_that_keeps_what_came_before() -> None:
    provider = PacedProvider([0.0, 0.01, IDLE * 4, 0.0])
    got: list[str] = []
    with pytest.raises(ProviderTimeout) as caught:
        async for chunk in stream_with_policy(provider, "m", [ChatMessage("user", "hi")], PARAMS, POLICY):  # type: ignore[arg-type]
            assert isinstance(chunk, TextChunk)
            got.append(chunk.text)
    assert got == ["t0", "t1"]
    assert "mid-way" in caught.value.message
    assert provider.closed  # the provider's stream was closed, its connection with it


async def test_a_slow_reader_is_not_the_models_silence() -> None:
    # The reader takes longer than the limit over each chunk; the model itself never makes it wait.
    assert await read(PacedProvider([0.0, 0.0, 0.0, 0.0]), pause=IDLE * 1.5) == ["t0", "t1", "t2", "t3"]


async def test_another_cancellation_while_waiting_stays_a_cancellation() -> None:
    provider = PacedProvider([0.0, 10.0])
    task = asyncio.create_task(read(provider))
    await asyncio.sleep(IDLE / 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.closed


async def test_the_task_is_not_left_cancelling_after_a_timeout() -> None:
    with pytest.raises(ProviderTimeout):
        await read(PacedProvider([0.0, IDLE * 4]))
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0.01)  # a later await in the same task is not cancelled
