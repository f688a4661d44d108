"""The whole server with the openai provider, over the wire against the scripted fake upstream:
discovery, every setting reaching the upstream request, history sent back, and upstream failures."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from parley.config import Settings
from parley.runtime import open_runtime
from parley.testing.fake_openai import FakeOpenAI, Script
from tests.conftest import FAST_ARGON2, PASSWORD


@pytest.fixture
async def fake():
    async with FakeOpenAI(api_key="sk-fake-key", models=("fake-model", "fake-large")) as upstream:
        yield upstream


@pytest.fixture
def settings(tmp_path, fake) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        local_model=False,
        argon2=FAST_ARGON2,
        openai_base_url=fake.base_url,
        openai_api_key="sk-fake-key",
        retry_base_delay=0.01,
        first_token_timeout=2,
        token_idle_timeout=1,
    )


@pytest.fixture
async def runtime(settings):
    async with open_runtime(settings, env={}) as opened:
        yield opened


@pytest.fixture
async def session(runtime, live_server):
    await runtime.auth.create_user("erin", PASSWORD)
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        token = (await http.post("/api/login", json={"username": "erin", "password": PASSWORD})).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


async def ask(live_server, http, msgid, prompt, **payload):
    ticket = (await http.post("/api/ws-ticket")).json()["ticket"]
    async with websockets.connect(f"{live_server.ws_url}?ticket={ticket}") as ws:
        await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": msgid, "prompt": prompt, **payload}}))
        events = []
        while not events or events[-1]["type"] not in ("done", "error"):
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return events


async def test_models_are_discovered_from_the_upstream(session):
    body = (await session.get("/api/models")).json()
    assert [m["id"] for m in body["models"]] == ["fake-model", "fake-large"]
    assert body["default_model"] == "fake-model"
    assert body["models"][0]["provider"] == "openai"


async def test_every_setting_reaches_the_upstream_request(session, live_server, fake):
    params = {
        "model": "fake-large",
        "temperature": 0.3,
        "top_p": 0.8,
        "max_tokens": 64,
        "frequency_penalty": 0.4,
        "presence_penalty": -0.2,
        "system_prompt": "You are terse.",
    }
    events = await ask(live_server, session, "p1", "Hello upstream", params=params)
    assert events[-1]["type"] == "done"
    request = fake.chat_requests[-1]
    assert request.authorization == "Bearer sk-fake-key"
    body = request.body
    assert body["model"] == "fake-large"
    assert body["stream"] is True
    for name in ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty"):
        assert body[name] == params[name], name
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello upstream"},
    ]
    answer = "".join(e["text"] for e in events if e["type"] == "delta")
    assert answer == "Hello from the fake model."
    assert events[-1]["usage"]["completion_tokens"] > 0


async def test_follow_up_sends_the_history(session, live_server, fake):
    first = await ask(live_server, session, "h1", "My name is Erin.")
    conversation_id = first[0]["conversation_id"]
    await ask(live_server, session, "h2", "What is my name?", conversation_id=conversation_id)
    assert fake.chat_requests[-1].body["messages"] == [
        {"role": "user", "content": "My name is Erin."},
        {"role": "assistant", "content": "Hello from the fake model."},
        {"role": "user", "content": "What is my name?"},
    ]


async def test_rate_limit_then_success_is_retried_invisibly(session, live_server, fake):
    fake.enqueue(Script.error(429, retry_after=0.01), Script(tokens=("ok",)))
    events = await ask(live_server, session, "r1", "hi")
    assert [e["type"] for e in events] == ["start", "delta", "done"]
    assert len(fake.chat_requests) == 2


async def test_server_errors_exhaust_retries_then_a_clear_error(session, live_server, fake, settings):
    fake.enqueue(*[Script.error(500)] * (settings.provider_retries + 1))
    events = await ask(live_server, session, "r2", "keep this prompt")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "provider_unavailable"
    assert len(fake.chat_requests) == settings.provider_retries + 1
    detail = (await session.get(f"/api/conversations/{events[0]['conversation_id']}")).json()
    assert detail["messages"][0]["content"] == "keep this prompt"


async def test_upstream_drop_mid_answer_saves_the_partial(session, live_server, fake):
    fake.enqueue(Script(tokens=("one", " two", " three", " four"), drop_after=2))
    events = await ask(live_server, session, "d1", "hi")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "stream_interrupted"
    detail = (await session.get(f"/api/conversations/{events[0]['conversation_id']}")).json()
    assert detail["messages"][-1]["content"] == "one two"
    assert detail["messages"][-1]["status"] == "interrupted"
    assert len(fake.chat_requests) == 1  # nothing retried after the user saw tokens


async def test_upstream_hang_ends_in_a_timeout_error(session, live_server, fake, settings):
    fake.enqueue(Script(tokens=("a", "b", "c"), hang_after=1))
    started = asyncio.get_running_loop().time()
    events = await ask(live_server, session, "t1", "hi")
    elapsed = asyncio.get_running_loop().time() - started
    assert events[-1]["type"] == "error" and events[-1]["code"] == "provider_timeout"
    assert elapsed < settings.token_idle_timeout + 3
    detail = (await session.get(f"/api/conversations/{events[0]['conversation_id']}")).json()
    assert (detail["messages"][-1]["content"], detail["messages"][-1]["status"]) == ("a", "interrupted")


async def test_a_wrong_key_is_a_provider_auth_error(tmp_path, fake):
    settings = Settings(
        data_dir=tmp_path / "d2",
        local_model=False,
        argon2=FAST_ARGON2,
        openai_base_url=fake.base_url,
        openai_api_key="sk-wrong",
    )
    async with open_runtime(settings, env={}) as runtime:
        # Discovery fails with the wrong key: the endpoint is skipped, and the server still starts.
        assert runtime.models.list_models() == []
