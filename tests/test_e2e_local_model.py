"""The issue's "done when": a user created with the CLI logs in, chats over the WebSocket with the real
local model, sees the answer streamed, and then finds it in their conversations."""

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
from parley.runtime import open_runtime
from tests.conftest import FAST_ARGON2

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
