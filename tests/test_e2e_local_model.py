"""The whole server with the real local model: a user created with the CLI logs in, chats over the WebSocket,
sees the answer streamed and finds it in their conversations; and the model's process dying mid-answer
leaves the server serving."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
import websockets

from parley.cli.main import main as parley_cli
from parley.config import Settings
from parley.core.providers.local import MODEL_ID, LocalProvider
from parley.runtime import open_runtime
from parley.server.app import create_app
from parley.server.embedded import serving
from parley.testing.fake_openai import FakeOpenAI, Script
from tests.conftest import FAST_ARGON2, PASSWORD

pytestmark = pytest.mark.local_model


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", local_model=True, local_model_threads=2, argon2=FAST_ARGON2)


@pytest.fixture
async def runtime(settings):
    async with open_runtime(settings, env={}) as opened:
        yield opened


async def test_cli_user_chats_with_the_local_model_over_websocket(settings, runtime, live_server, monkeypatch):
    assert runtime.models.default_model == "smollm2-135m"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    monkeypatch.setenv("PARLEY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PARLEY_LOCAL_MODEL", "off")
    assert await asyncio.to_thread(parley_cli, ["users", "add", "dana", "--password-stdin"]) == 0

    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        login = await http.post("/api/login", json={"username": "dana", "password": "a-long-password"})
        assert login.status_code == 200
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        models = (await http.get("/api/models", headers=headers)).json()
        assert models["default_model"] == "smollm2-135m"
        ticket = (await http.post("/api/ws-ticket", headers=headers)).json()["ticket"]
        async with websockets.connect(f"{live_server.ws_url}?ticket={ticket}") as ws:
            await ws.send(
                json.dumps(
                    {
                        "action": "sendprompt",
                        "payload": {
                            "msgid": "first",
                            "prompt": "What is the capital of France?",
                            "params": {"temperature": 0, "max_tokens": 8},
                        },
                    }
                )
            )
            events = []
            while not events or events[-1]["type"] not in ("done", "error"):
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
        assert events[0]["type"] == "start"
        assert events[-1]["type"] == "done", events[-1]
        deltas = [e["text"] for e in events if e["type"] == "delta"]
        assert deltas and "".join(deltas).strip()
        assert 0 < events[-1]["usage"]["completion_tokens"] <= 8

        listing = (await http.get("/api/conversations", headers=headers)).json()["items"]
        assert [c["id"] for c in listing] == [events[0]["conversation_id"]]
        detail = (await http.get(f"/api/conversations/{listing[0]['id']}", headers=headers)).json()
        assert detail["messages"][1]["content"] == "".join(deltas)
        assert detail["messages"][1]["status"] == "complete"


def test_parley_serve_starts_and_says_how_to_create_the_first_user(tmp_path):
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_PORT": "0",
        "PARLEY_LOCAL_MODEL": "on",
    }
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    lines = []
    with subprocess.Popen(
        [sys.executable, "-m", "parley.cli.main", "serve"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            port, loaded, hint = None, False, False
            for line in process.stderr:
                lines.append(line)
                hint = hint or "users add YOURNAME --admin" in line
                loaded = loaded or "loaded local model" in line
                found = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
                if found:
                    port = int(found.group(1))
                if port and loaded and hint:
                    break
            assert port and loaded and hint, "".join(lines)
            health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)
            assert health.json()["status"] == "ok"
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)
    assert process.returncode == 0


@pytest.fixture
async def fake_upstream():
    async with FakeOpenAI(api_key="sk-fake-key", models=("fake-model",)) as upstream:
        yield upstream


async def test_killing_the_model_process_mid_answer_leaves_the_server_serving(tmp_path, fake_upstream):
    """The model's process dies (here: kill -9) while it answers over the WebSocket. That answer ends as
    interrupted with its text and a clear error; another user's answer from another provider, streaming at
    the same moment, finishes whole; health stays green; the next local answer starts a new process."""
    settings = Settings(
        data_dir=tmp_path / "data",
        local_model=True,
        local_model_threads=2,
        argon2=FAST_ARGON2,
        openai_base_url=fake_upstream.base_url,
        openai_api_key="sk-fake-key",
    )
    fake_upstream.script = Script(tokens=tuple(f" word{i}" for i in range(40)), token_delay=0.05)
    async with open_runtime(settings, env={}) as runtime, serving(create_app(settings, runtime)) as port:
        base_url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
        local = runtime.models.get(MODEL_ID).provider
        assert isinstance(local, LocalProvider)
        for name in ("dana", "omar"):
            await runtime.auth.create_user(name, PASSWORD)
        async with httpx.AsyncClient(base_url=base_url) as http:
            dana, omar = [await login(http, name) for name in ("dana", "omar")]
            async with (
                websockets.connect(f"{ws_url}?ticket={await ticket(http, dana)}") as dana_ws,
                websockets.connect(f"{ws_url}?ticket={await ticket(http, omar)}") as omar_ws,
            ):
                await send_prompt(dana_ws, "story", "Write a very long story about a dragon.", MODEL_ID, 1024)
                story = [json.loads(await asyncio.wait_for(dana_ws.recv(), 60)) for _ in range(3)]
                assert [e["type"] for e in story] == ["start", "delta", "delta"], story
                await send_prompt(omar_ws, "other", "Count for me.", "fake-model", 100)
                assert json.loads(await asyncio.wait_for(omar_ws.recv(), 10))["type"] == "start"

                crashed_pid = local.process_id
                assert crashed_pid is not None
                os.kill(crashed_pid, signal.SIGKILL)

                story += await events_until_end(dana_ws)
                other = await events_until_end(omar_ws)

            assert story[-1]["type"] == "error", story[-1]
            assert story[-1]["code"] == "model_crashed"
            assert "starts again" in story[-1]["message"]
            assert other[-1]["type"] == "done", other[-1]
            assert "".join(e["text"] for e in other if e["type"] == "delta") == "".join(fake_upstream.script.tokens)

            health = await http.get("/api/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"

            listing = (await http.get("/api/conversations", headers=dana)).json()["items"]
            detail = (await http.get(f"/api/conversations/{listing[0]['id']}", headers=dana)).json()
            answer = detail["messages"][1]
            assert answer["status"] == "interrupted"
            assert answer["content"] == "".join(e["text"] for e in story if e["type"] == "delta")
            assert answer["error"] == story[-1]["message"]

            async with websockets.connect(f"{ws_url}?ticket={await ticket(http, dana)}") as dana_ws:
                await send_prompt(dana_ws, "again", "What is the capital of France?", MODEL_ID, 8)
                again = await events_until_end(dana_ws)
            assert again[-1]["type"] == "done", again[-1]
            assert local.process_id not in (None, crashed_pid)


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await http.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def ticket(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return (await http.post("/api/ws-ticket", headers=headers)).json()["ticket"]


async def send_prompt(ws, msgid: str, prompt: str, model: str, max_tokens: int) -> None:
    params = {"model": model, "temperature": 0, "max_tokens": max_tokens}
    await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": msgid, "prompt": prompt, "params": params}}))


async def events_until_end(ws) -> list[dict]:
    events: list[dict] = []
    while not events or events[-1]["type"] not in ("done", "error"):
        events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
    return events
