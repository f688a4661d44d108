"""``parley serve`` shutting down on SIGTERM, as a process: no new answers, running ones finish within the grace
period (still streamed to their readers), the rest are saved as interrupted, and the exit code is 0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from parley.testing.fake_openai import FakeOpenAI, Script
from tests.conftest import PASSWORD

UPSTREAM_KEY = "sk-shutdown-test"
TOKENS = [f"word{n} " for n in range(20)]


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    token: str = ""

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/ws"

    def saved_answers(self) -> list[tuple[str, str | None, str]]:
        with contextlib.closing(sqlite3.connect(self.data_dir / "parley.db")) as db:
            rows = db.execute(
                "SELECT status, finish_reason, parts FROM messages WHERE role = 'assistant' ORDER BY seq"
            ).fetchall()
        return [
            (status, reason, "".join(p.get("text", "") for p in json.loads(parts))) for status, reason, parts in rows
        ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=UPSTREAM_KEY, models=("fake-model",)) as upstream:
        yield upstream


@contextlib.asynccontextmanager
async def parley_serve(tmp_path: Path, fake: FakeOpenAI, grace_seconds: float) -> AsyncIterator[RunningServer]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_PORT": str(port),
        "PARLEY_HOST": "127.0.0.1",
        "PARLEY_LOCAL_MODEL": "off",
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "PARLEY_SHUTDOWN_GRACE_SECONDS": str(grace_seconds),
    }
    parley = [sys.executable, "-m", "parley.cli.main"]
    add = await asyncio.create_subprocess_exec(
        *parley, "users", "add", "erin", "--password-stdin", env=env, stdin=subprocess.PIPE
    )
    await add.communicate(f"{PASSWORD}\n".encode())
    assert add.returncode == 0
    log = (tmp_path / "server.log").open("wb")
    # A Popen, not an asyncio subprocess: the test signals it and waits for it from a thread.
    process = subprocess.Popen([*parley, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
    server = RunningServer(process, f"http://127.0.0.1:{port}", tmp_path / "data")
    try:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/api/health")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            login = await http.post("/api/login", json={"username": "erin", "password": PASSWORD})
            server.token = login.json()["token"]
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


async def sse_events(server: RunningServer, prompt: str, first_delta: asyncio.Event) -> list[dict]:
    events: list[dict] = []
    headers = {"Authorization": f"Bearer {server.token}", "Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
        http.stream("POST", "/api/chat", json={"prompt": prompt}, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                if events[-1]["type"] == "delta":
                    first_delta.set()
    return events


async def exit_code(process: subprocess.Popen[bytes], within: float) -> int:
    return await asyncio.wait_for(asyncio.to_thread(process.wait), within)


async def test_a_running_answer_finishes_within_the_grace_period_and_new_ones_are_refused(tmp_path, fake):
    fake.script = Script(tokens=TOKENS, token_delay=0.1)
    async with parley_serve(tmp_path, fake, grace_seconds=20) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            ticket = (await http.post("/api/ws-ticket", headers={"Authorization": f"Bearer {server.token}"})).json()[
                "ticket"
            ]
        async with websockets.connect(f"{server.ws_url}?ticket={ticket}") as socket_open_before:
            first_delta = asyncio.Event()
            answer = asyncio.create_task(sse_events(server, "tell me", first_delta))
            await asyncio.wait_for(first_delta.wait(), 10)
            server.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)

            # The socket opened before stays open, but a new prompt on it is refused, and nothing new connects.
            await socket_open_before.send(
                json.dumps({"action": "sendprompt", "payload": {"msgid": "late-1", "prompt": "one more"}})
            )
            refusal = json.loads(await asyncio.wait_for(socket_open_before.recv(), 5))
            assert refusal["type"] == "error" and refusal["code"] == "shutting_down"
            with pytest.raises(httpx.ConnectError):
                async with httpx.AsyncClient(base_url=server.base_url) as http:
                    await http.get("/api/health")

            events = await asyncio.wait_for(answer, 15)
        assert events[-1]["type"] == "done"
        assert "".join(e["text"] for e in events if e["type"] == "delta") == "".join(TOKENS)
        assert await exit_code(server.process, 15) == 0
        assert server.saved_answers() == [("complete", "stop", "".join(TOKENS))]


async def test_an_answer_still_running_when_the_grace_period_ends_is_saved_as_interrupted(tmp_path, fake):
    fake.script = Script(tokens=TOKENS * 5, token_delay=0.1)  # ten seconds of answer
    async with parley_serve(tmp_path, fake, grace_seconds=1) as server:
        first_delta = asyncio.Event()
        answer = asyncio.create_task(sse_events(server, "tell me more", first_delta))
        await asyncio.wait_for(first_delta.wait(), 10)
        server.process.send_signal(signal.SIGTERM)

        events = await asyncio.wait_for(answer, 8)  # the reader is told, the stream ends cleanly
        assert await exit_code(server.process, 8) == 0
        assert events[-1]["type"] == "error" and events[-1]["code"] == "abandoned"
        streamed = "".join(e["text"] for e in events if e["type"] == "delta")
        [(status, reason, saved)] = server.saved_answers()
        assert (status, reason) == ("interrupted", "abandoned")
        assert saved == streamed and saved and "".join(TOKENS * 5).startswith(saved) and saved != "".join(TOKENS * 5)


async def make_key(server: RunningServer) -> str:
    env = {**os.environ, "PARLEY_DATA_DIR": str(server.data_dir)}
    made = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "parley.cli.main",
        "keys",
        "create",
        "script",
        "--user",
        "erin",
        env=env,
        stdout=subprocess.PIPE,
    )
    out, _ = await made.communicate()
    assert made.returncode == 0
    return out.decode().strip()


async def v1_events(server: RunningServer, key: str, first_delta: asyncio.Event) -> list[str]:
    """The data of every event of a streamed /v1 answer ('[DONE]' included when it comes)."""
    events: list[str] = []
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "go on"}], "stream": True}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
        http.stream("POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(line[6:])
                if '"content":"word' in events[-1]:
                    first_delta.set()
    return events


def v1_text(events: list[str]) -> str:
    chunks = [json.loads(event) for event in events if event != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def month_counter_and_records(server: RunningServer) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(server.data_dir / "parley.db")) as db:
        (counter,) = db.execute("SELECT COALESCE(SUM(used), 0) FROM usage_months").fetchone()
        (recorded,) = db.execute(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM usage_records"
        ).fetchone()
    return counter, recorded


async def test_a_running_v1_stream_finishes_within_the_grace_period_and_new_ones_get_503(tmp_path, fake):
    fake.script = Script(tokens=TOKENS, token_delay=0.1)
    async with parley_serve(tmp_path, fake, grace_seconds=20) as server:
        key = await make_key(server)
        auth = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as kept_alive:
            assert (await kept_alive.get("/v1/models", headers=auth)).status_code == 200  # a connection opened before
            first_delta = asyncio.Event()
            answer = asyncio.create_task(v1_events(server, key, first_delta))
            await asyncio.wait_for(first_delta.wait(), 10)
            server.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            late = await kept_alive.post(
                "/v1/chat/completions",
                json={"model": "fake-model", "messages": [{"role": "user", "content": "late"}]},
                headers=auth,
            )
            assert late.status_code == 503 and late.json()["error"]["code"] == "shutting_down"
            assert late.headers["retry-after"] == "5"
            events = await asyncio.wait_for(answer, 15)
        assert events[-1] == "[DONE]" and json.loads(events[-2])["choices"][0]["finish_reason"] == "stop"
        assert v1_text(events) == "".join(TOKENS)
        assert await exit_code(server.process, 15) == 0
        counter, recorded = month_counter_and_records(server)
        assert counter == recorded > 0


async def test_a_v1_stream_still_running_when_the_grace_period_ends_gets_an_error_event(tmp_path, fake):
    fake.script = Script(tokens=TOKENS * 5, token_delay=0.1)  # ten seconds of answer
    async with parley_serve(tmp_path, fake, grace_seconds=1) as server:
        key = await make_key(server)
        first_delta = asyncio.Event()
        answer = asyncio.create_task(v1_events(server, key, first_delta))
        await asyncio.wait_for(first_delta.wait(), 10)
        server.process.send_signal(signal.SIGTERM)

        events = await asyncio.wait_for(answer, 8)  # the stream ends cleanly, with an error event and no [DONE]
        assert await exit_code(server.process, 8) == 0
        error = json.loads(events[-1])["error"]
        assert error["code"] == "shutting_down" and "cut short" in error["message"]
        assert "[DONE]" not in events
        streamed = v1_text(events)
        assert streamed and "".join(TOKENS * 5).startswith(streamed) and streamed != "".join(TOKENS * 5)
        # Its reservation (the model's whole max_tokens) was settled with an estimate before the process ended.
        counter, recorded = month_counter_and_records(server)
        assert counter == recorded > 0
