"""Everything `parley serve` logs during a whole scenario, searched for the secrets that passed through it:
the password, the session token, the WebSocket ticket and the signing secret must never appear."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading

import httpx
import websockets

from parley.testing.fake_openai import FakeOpenAI

PASSWORD = "a-Password-that-must-not-leak-42"
JWT_SECRET = "0123456789abcdef" * 4


def test_a_full_scenario_logs_no_secret(tmp_path):
    with FakeOpenAI(api_key="sk-upstream-key-never-logged").run_in_thread() as fake:
        env = {
            **os.environ,
            "PARLEY_DATA_DIR": str(tmp_path / "data"),
            "PARLEY_PORT": "0",
            "PARLEY_LOCAL_MODEL": "off",
            "PARLEY_LOG_LEVEL": "DEBUG",
            "PARLEY_JWT_SECRET": JWT_SECRET,
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-upstream-key-never-logged",
        }
        add = subprocess.run(
            [sys.executable, "-m", "parley.cli.main", "users", "add", "alice", "--password-stdin"],
            input=PASSWORD + "\n",
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        with subprocess.Popen(
            [sys.executable, "-m", "parley.cli.main", "serve"],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as server:
            lines: list[str] = []
            port = _wait_for_port(server, lines)
            reader = threading.Thread(target=lambda: lines.extend(server.stderr), daemon=True)
            reader.start()
            secrets_seen = asyncio.run(_scenario(port))
            server.send_signal(signal.SIGINT)
            out, _ = server.communicate(timeout=20)
            reader.join(timeout=5)
    log = add.stdout + add.stderr + "".join(lines) + out
    (tmp_path / "server.log").write_text(log)  # kept for reading when this fails
    assert "/ws?ticket=[redacted]" in log  # the scenario ran and was logged
    assert "/api/conversations?token=[redacted]" in log
    for name, value in {**secrets_seen, "password": PASSWORD, "jwt secret": JWT_SECRET}.items():
        assert value not in log, f"the {name} appears in the logs"
    assert "sk-upstream-key-never-logged" not in log


def _wait_for_port(server, lines) -> int:
    for line in server.stderr:
        lines.append(line)
        found = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError("".join(lines))


async def _scenario(port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        wrong = await http.post("/api/login", json={"username": "alice", "password": PASSWORD + "x"})
        assert wrong.status_code == 401
        token = (await http.post("/api/login", json={"username": "alice", "password": PASSWORD})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        ticket = (await http.post("/api/ws-ticket", headers=headers)).json()["ticket"]
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?ticket={ticket}") as ws:
            await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "m", "prompt": "hello"}}))
            while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] not in ("done", "error"):
                pass
        # A used ticket and forged credentials in other places are refused, and logged without the values.
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?ticket={ticket}") as ws:
            await ws.wait_closed()
        assert (await http.get(f"/api/conversations?token={token}")).status_code == 401
        assert (await http.post("/api/logout", headers=headers)).status_code == 204
        assert (await http.get("/api/conversations", headers=headers)).status_code == 401
    return {"session token": token, "ticket": ticket, "token signature": token.rsplit(".", 1)[1]}
