"""The scripted fake OpenAI-compatible server, spoken to with a plain HTTP client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from parley.testing.fake_openai import DEFAULT_TOKENS, FakeOpenAI, Script

KEY = "sk-fake-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=KEY, models=["fake-model", "other-model"]) as server:
        yield server


@pytest.fixture
async def http(fake: FakeOpenAI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=AUTH, timeout=5) as client:
        yield client


def chat_body(content: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": [{"role": "user", "content": content}], **extra}


def sse_payloads(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line]


async def test_models_are_listed_in_openai_format(http: httpx.AsyncClient) -> None:
    response = await http.get("/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["fake-model", "other-model"]


async def test_streams_chunks_then_usage_then_done(http: httpx.AsyncClient) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    response = await http.post("/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "".join(DEFAULT_TOKENS)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8}


async def test_no_usage_chunk_unless_asked(http: httpx.AsyncClient) -> None:
    response = await http.post("/chat/completions", json=chat_body(stream=True))
    chunks = [json.loads(p) for p in sse_payloads(response.text)[:-1]]
    assert all(c["choices"] and "usage" not in c for c in chunks)


async def test_echo_and_max_tokens_without_streaming(fake: FakeOpenAI, http: httpx.AsyncClient) -> None:
    fake.script.echo = True
    response = await http.post("/chat/completions", json=chat_body("one two three four", max_tokens=3))
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "one two three"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 3


async def test_wrong_key_gets_openai_style_401(http: httpx.AsyncClient) -> None:
    response = await http.get("/models", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


async def test_unknown_model_gets_404(http: httpx.AsyncClient) -> None:
    response = await http.post("/chat/completions", json={**chat_body(), "model": "gpt-9"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


async def test_queued_scripts_run_in_order_then_the_default(fake: FakeOpenAI, http: httpx.AsyncClient) -> None:
    fake.enqueue(Script.error(429, retry_after=2), *[Script.error(500)] * 2)
    statuses = []
    for _ in range(4):
        response = await http.post("/chat/completions", json=chat_body())
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "2"
            assert response.json()["error"]["type"] == "requests"
    assert statuses == [429, 500, 500, 200]


async def test_drop_closes_the_connection_mid_body(fake: FakeOpenAI, http: httpx.AsyncClient) -> None:
    fake.enqueue(Script(tokens=("a", "b", "c", "d"), drop_after=2))
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    received.append(json.loads(line[6:])["choices"][0]["delta"]["content"])
    assert received == ["", "a", "b"]  # the role chunk, then two tokens
    assert not fake.chat_requests[-1].client_disconnected


async def test_hang_lasts_until_the_client_leaves(fake: FakeOpenAI, http: httpx.AsyncClient) -> None:
    fake.enqueue(Script(hang_after=1))
    async with http.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
        events = (json.loads(line[6:]) async for line in response.aiter_lines() if line)
        assert (await anext(events))["choices"][0]["delta"] == {"role": "assistant", "content": ""}
        assert (await anext(events))["choices"][0]["delta"] == {"content": "Hello"}
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await anext(events)
    async with asyncio.timeout(2):
        await fake.wait_for_disconnects(1)
    assert fake.chat_requests[-1].client_disconnected


async def test_records_bodies_and_headers(fake: FakeOpenAI, http: httpx.AsyncClient) -> None:
    await http.post("/chat/completions", json=chat_body(temperature=0.3))
    recorded = fake.chat_requests[-1]
    assert recorded.method == "POST"
    assert recorded.authorization == f"Bearer {KEY}"
    assert recorded.body["temperature"] == 0.3
    assert recorded.body["messages"] == [{"role": "user", "content": "hello there"}]


def test_runs_in_a_thread_for_sync_code() -> None:
    with FakeOpenAI(Script(tokens=("sync",))).run_in_thread() as fake:
        response = httpx.post(f"{fake.base_url}/chat/completions", json=chat_body(), timeout=5)
    assert response.json()["choices"][0]["message"]["content"] == "sync"


def test_runs_as_a_process() -> None:
    command = [sys.executable, "-m", "parley.testing.fake_openai", "--port", "0", "--model", "m1", "--echo"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().split()[-1]
            assert base_url.startswith("http://127.0.0.1:")
            body = {"model": "m1", "messages": [{"role": "user", "content": "ping pong"}]}
            response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=5)
            assert response.json()["choices"][0]["message"]["content"] == "ping pong"
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
