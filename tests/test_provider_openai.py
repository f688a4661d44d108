"""The ``openai`` provider over the wire, against the scripted fake server on loopback."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import pytest

from parley.config import Settings
from parley.core.chat.upstream import UpstreamPolicy, stream_with_policy
from parley.core.providers.base import (
    ChatMessage,
    Chunk,
    FinishChunk,
    GenerationParams,
    ModelInfo,
    ParamRanges,
    TextChunk,
    Usage,
    UsageChunk,
)
from parley.core.providers.endpoints import Endpoint, ModelEntry
from parley.core.providers.openai_compat import OpenAICompatProvider
from parley.core.providers.registry import provider_factory
from parley.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    StreamInterrupted,
)
from parley.testing.fake_openai import DEFAULT_TOKENS, FakeOpenAI, Script

KEY = "sk-parley-test-secret"
PARAMS = GenerationParams(temperature=0.3, top_p=0.9, max_tokens=50, frequency_penalty=0.5, presence_penalty=-0.25)
MESSAGES = [
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Hi there"),
    ChatMessage("assistant", "Hello."),
    ChatMessage("user", "Tell me a story"),
]
SETTINGS = Settings(local_model=False, first_token_timeout=5, token_idle_timeout=5)

MakeProvider = Callable[..., OpenAICompatProvider]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=KEY, models=["fake-model", "fake-large"]) as server:
        yield server


@pytest.fixture
async def make_provider(fake: FakeOpenAI) -> AsyncIterator[MakeProvider]:
    made: list[OpenAICompatProvider] = []

    def make(settings: Settings = SETTINGS, **endpoint: Any) -> OpenAICompatProvider:
        options = {"name": "fake", "type": "openai", "base_url": fake.base_url, "api_key": KEY, **endpoint}
        provider = OpenAICompatProvider(Endpoint(**options), settings)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


async def collect(provider: OpenAICompatProvider, model: str = "fake-model") -> list[Chunk]:
    return [chunk async for chunk in provider.stream(model, MESSAGES, PARAMS)]


async def collect_until_error(provider: OpenAICompatProvider) -> tuple[list[Chunk], ProviderError]:
    chunks: list[Chunk] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in provider.stream("fake-model", MESSAGES, PARAMS):
            chunks.append(chunk)
    return chunks, caught.value


def texts(chunks: list[Chunk]) -> list[str]:
    return [chunk.text for chunk in chunks if isinstance(chunk, TextChunk)]


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_registered_as_the_openai_type() -> None:
    provider = provider_factory("openai")(Endpoint(name="x", type="openai", base_url="http://127.0.0.1:9/v1"), SETTINGS)
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.name == "x"


async def test_streams_text_then_finish_then_usage(make_provider: MakeProvider) -> None:
    chunks = await collect(make_provider())
    assert chunks == [
        *(TextChunk(token) for token in DEFAULT_TOKENS),
        FinishChunk("stop"),
        UsageChunk(Usage(prompt_tokens=9, completion_tokens=len(DEFAULT_TOKENS))),  # the fake counts words
    ]


async def test_every_param_reaches_the_upstream(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    await collect(make_provider(), model="fake-large")
    [request] = fake.chat_requests
    assert request.authorization == f"Bearer {KEY}"
    body = request.body
    assert body["model"] == "fake-large"
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in MESSAGES]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.9, 50)
    assert (body["frequency_penalty"], body["presence_penalty"]) == (0.5, -0.25)


async def test_length_finish_reason_is_passed_on(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script.tokens = ["w"] * 80  # more than max_tokens=50
    chunks = await collect(make_provider())
    assert len(texts(chunks)) == 50
    assert FinishChunk("length") in chunks


async def test_discovery_lists_the_upstream_models(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    models = await make_provider().list_models()
    assert models == [
        ModelInfo(id="fake-model", provider="fake", context_window=8192, ranges=ParamRanges()),
        ModelInfo(id="fake-large", provider="fake", context_window=8192, ranges=ParamRanges()),
    ]
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/v1/models")]


async def test_an_explicit_model_list_needs_no_network(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    entries = (ModelEntry("llama3.2"), ModelEntry("qwen2.5", context_window=32768, display_name="Qwen"))
    provider = make_provider(base_url=f"http://127.0.0.1:{unused_port()}/v1", models=entries)
    models = await provider.list_models()
    assert [(m.id, m.context_window, m.label, m.provider) for m in models] == [
        ("llama3.2", 8192, "llama3.2", "fake"),
        ("qwen2.5", 32768, "Qwen", "fake"),
    ]
    assert fake.requests == []


async def test_discovery_with_a_wrong_key_is_an_auth_error(make_provider: MakeProvider) -> None:
    with pytest.raises(ProviderAuthError):
        await make_provider(api_key="sk-wrong").list_models()


async def test_refused_key_is_an_auth_error_that_never_shows_the_key(
    fake: FakeOpenAI, make_provider: MakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    fake.enqueue(Script.error(401, message=f"Incorrect API key provided: {KEY}"))
    with caplog.at_level(logging.DEBUG, logger="parley"):
        chunks, error = await collect_until_error(make_provider())
    assert chunks == []
    assert type(error) is ProviderAuthError
    assert KEY not in error.message
    assert "Incorrect API key" in caplog.text  # the detail is logged...
    assert KEY not in caplog.text  # ...without the key


async def test_rate_limit_carries_retry_after(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.enqueue(Script.error(429, retry_after=7), Script.error(429))
    provider = make_provider()
    _, error = await collect_until_error(provider)
    assert isinstance(error, ProviderRateLimited)
    assert error.retryable
    assert error.retry_after == 7
    _, error = await collect_until_error(provider)
    assert isinstance(error, ProviderRateLimited)
    assert error.retry_after is None


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_unavailable(fake: FakeOpenAI, make_provider: MakeProvider, status: int) -> None:
    fake.enqueue(Script.error(status))
    _, error = await collect_until_error(make_provider())
    assert type(error) is ProviderUnavailable
    assert error.retryable


async def test_unknown_model_upstream_is_a_provider_error(make_provider: MakeProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(make_provider(), model="gpt-nope")
    assert type(caught.value) is ProviderError
    assert "does not offer that model" in caught.value.message


async def test_drop_mid_stream_yields_the_tokens_then_interrupts(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.enqueue(Script(tokens=("a", "b", "c", "d", "e"), drop_after=3))
    chunks, error = await collect_until_error(make_provider())
    assert chunks == [TextChunk("a"), TextChunk("b"), TextChunk("c")]
    assert type(error) is StreamInterrupted


async def test_drop_before_any_token_is_unavailable_so_it_can_be_retried(
    fake: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake.enqueue(Script(drop_after=0))
    chunks, error = await collect_until_error(make_provider())
    assert chunks == []
    assert type(error) is ProviderUnavailable


async def test_closing_the_stream_early_hangs_up_on_the_upstream(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.script = Script(tokens=["tick "] * 200, token_delay=0.02)
    async with aclosing(make_provider().stream("fake-model", MESSAGES, PARAMS)) as stream:
        assert await anext(stream) == TextChunk("tick ")
        assert await anext(stream) == TextChunk("tick ")
    async with asyncio.timeout(2):
        await fake.wait_for_disconnects(1)
    assert fake.chat_requests[-1].client_disconnected


async def test_nothing_listening_is_unavailable(make_provider: MakeProvider) -> None:
    provider = make_provider(base_url=f"http://127.0.0.1:{unused_port()}/v1")
    _, error = await collect_until_error(provider)
    assert type(error) is ProviderUnavailable
    with pytest.raises(ProviderUnavailable):
        await provider.list_models()


FAST_TIMEOUTS = Settings(local_model=False, first_token_timeout=0.3, token_idle_timeout=0.3)


async def test_a_silent_upstream_times_out_before_the_response(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.enqueue(Script(hang_after=0))  # not even a status line
    chunks, error = await collect_until_error(make_provider(FAST_TIMEOUTS))
    assert chunks == []
    assert type(error) is ProviderTimeout
    async with asyncio.timeout(2):
        await fake.wait_for_disconnects(1)


async def test_a_silent_upstream_times_out_mid_stream(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    fake.enqueue(Script(hang_after=2))
    chunks, error = await collect_until_error(make_provider(FAST_TIMEOUTS))
    assert texts(chunks) == list(DEFAULT_TOKENS[:2])
    assert type(error) is ProviderTimeout  # a timeout even after tokens: the upstream went silent
    async with asyncio.timeout(2):
        await fake.wait_for_disconnects(1)


async def test_the_chat_core_retries_a_rate_limit_before_the_first_token(
    fake: FakeOpenAI, make_provider: MakeProvider
) -> None:
    fake.enqueue(Script.error(429, retry_after=0), Script.error(500))
    policy = UpstreamPolicy(retries=3, base_delay=0.01)
    stream = stream_with_policy(make_provider(), "fake-model", MESSAGES, PARAMS, policy)
    chunks = [chunk async for chunk in stream]
    assert "".join(texts(chunks)) == "".join(DEFAULT_TOKENS)
    assert len(fake.chat_requests) == 3


async def test_a_closed_provider_sends_nothing(fake: FakeOpenAI, make_provider: MakeProvider) -> None:
    provider = make_provider()
    await provider.aclose()
    with pytest.raises(RuntimeError):
        await provider.list_models()
    assert fake.requests == []


def canned_stream(*events: bytes) -> bytes:
    """A whole HTTP response streaming ``events`` as server-sent events (closed at the end)."""
    body = b"".join(b"data: " + event + b"\n\n" for event in events)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    return head + body


@pytest.fixture
async def canned_server() -> AsyncIterator[Callable[[bytes], str]]:
    """A loopback server that answers every request with the bytes given (what no real server should send)."""
    reply = b""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    def serve(response: bytes) -> str:
        nonlocal reply
        reply = response
        return f"http://127.0.0.1:{port}/v1"

    async with server:
        yield serve


def chunk(text: str) -> bytes:
    return b'{"choices": [{"delta": {"content": "%s"}, "finish_reason": null}]}' % text.encode()


async def test_an_error_object_in_the_stream_interrupts_the_answer(
    canned_server: Callable[[bytes], str], make_provider: MakeProvider
) -> None:
    error = b'{"error": {"message": "The server had an error while processing your request."}}'
    url = canned_server(canned_stream(chunk("Hel"), chunk("lo"), error, chunk("never")))
    chunks, error_raised = await collect_until_error(make_provider(base_url=url))
    assert texts(chunks) == ["Hel", "lo"]
    assert type(error_raised) is StreamInterrupted


@pytest.mark.parametrize(
    "bad",
    [b"not json", b"[1, 2]", b'{"choices": [{"delta": "text"}]}', b'{"choices": [], "usage": {"prompt_tokens": 1}}'],
)
async def test_a_malformed_first_chunk_is_unavailable(
    canned_server: Callable[[bytes], str], make_provider: MakeProvider, bad: bytes
) -> None:
    url = canned_server(canned_stream(bad, chunk("never")))
    chunks, error = await collect_until_error(make_provider(base_url=url))
    assert chunks == []
    assert type(error) is ProviderUnavailable  # retryable before anything was shown


async def test_a_stream_split_across_reads_yields_every_token(
    canned_server: Callable[[bytes], str], make_provider: MakeProvider
) -> None:
    tokens = [f"t{i} " for i in range(300)]
    url = canned_server(canned_stream(*(chunk(token) for token in tokens), b"[DONE]"))
    assert texts(await collect(make_provider(base_url=url))) == tokens
