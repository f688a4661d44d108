"""Everything each path logs during a whole scenario, searched for the secrets that passed through it:
passwords, session tokens, WebSocket tickets, the signing secret and the provider key must never appear.

The paths run as the processes an operator starts (`parley serve`, `python -m parley.aws.local`) with
their own logging set-up at DEBUG, and the `parley users` commands' output is searched too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from parley.testing.fake_openai import FakeOpenAI

PASSWORD = "a-Password-that-must-not-leak-42"
NEW_PASSWORD = "another-Password-never-logged-7"
JWT_SECRET = "0123456789abcdef" * 4
UPSTREAM_KEY = "sk-upstream-key-never-logged"
READY = re.compile(r"(?:running on|running at) (http://127\.0\.0\.1:\d+)")


class Launched:
    def __init__(self, process: subprocess.Popen[str], cli_env: dict[str, str]) -> None:
        self.process = process
        self.cli_env = cli_env
        self.lines: list[str] = []
        self.url = ""

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "parley.cli.main", *args],
            input=stdin,
            env=self.cli_env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout + done.stderr


@contextlib.contextmanager
def launch(path: str, tmp_path: Path, fake: FakeOpenAI) -> Iterator[Launched]:
    env = {
        **os.environ,
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_LOCAL_MODEL": "off",
        "PARLEY_LOG_LEVEL": "DEBUG",
        "PARLEY_JWT_SECRET": JWT_SECRET,
        "OPENAI_BASE_URL": fake.base_url,
        "OPENAI_API_KEY": UPSTREAM_KEY,
    }
    cli_env_file = tmp_path / "cli-env.json"
    command = {
        "local": [sys.executable, "-m", "parley.cli.main", "serve"],
        "aws": [sys.executable, "-m", "parley.aws.local", "--port", "0", "--cli-env-file", str(cli_env_file)],
    }[path]
    env["PARLEY_PORT"] = "0"
    with subprocess.Popen(command, env=env, stderr=subprocess.STDOUT, stdout=subprocess.PIPE, text=True) as process:
        launched = Launched(process, env)
        assert process.stdout is not None
        for line in process.stdout:
            launched.lines.append(line)
            found = READY.search(line)
            if found:
                launched.url = found.group(1)
                break
        assert launched.url, "".join(launched.lines)
        reader = threading.Thread(target=lambda: launched.lines.extend(process.stdout or ()), daemon=True)
        reader.start()
        try:
            if path == "aws":  # written once the deployment serves, just after the line above
                deadline = time.monotonic() + 30
                while not cli_env_file.exists():
                    assert time.monotonic() < deadline, "".join(launched.lines)
                    time.sleep(0.05)
                launched.cli_env = {**env, **json.loads(cli_env_file.read_text())}
            yield launched
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            finally:
                reader.join(timeout=5)


@pytest.mark.parametrize("path", ["local", "aws"])
def test_a_full_scenario_logs_no_secret(path, tmp_path, ledger):
    with FakeOpenAI(api_key=UPSTREAM_KEY).run_in_thread() as fake, launch(path, tmp_path, fake) as launched:
        cli_output = launched.cli("users", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
        seen = asyncio.run(_scenario(launched.url.replace("http", "ws", 1) + "/ws", launched.url))
        cli_output += launched.cli("users", "passwd", "alice", "--password-stdin", stdin=NEW_PASSWORD + "\n")
        cli_output += launched.cli("users", "list")
        signing_secret = JWT_SECRET if path == "local" else _deployed_secret(launched.cli_env)
    log = cli_output + "".join(launched.lines)
    (tmp_path / "everything.log").write_text(log)  # kept for reading when this fails
    ledger.attempt(path, "log searches", 1)
    assert "login: user alice" in log and "logout: user alice" in log  # the scenario ran and was logged
    if path == "local":  # its access log names the URLs, redacted
        assert "/ws?ticket=[redacted]" in log and "/api/conversations?token=[redacted]" in log
    secrets = {
        **seen,
        "password": PASSWORD,
        "new password": NEW_PASSWORD,
        "signing secret": signing_secret,
        "provider key": UPSTREAM_KEY,
    }
    for name, value in secrets.items():
        assert value not in log, f"the {name} appears in the {path} logs"


def _deployed_secret(cli_env: dict[str, str]) -> str:
    """The signing secret the emulated deployment generated in (moto's) Secrets Manager."""
    import boto3

    client = boto3.client(
        "secretsmanager",
        endpoint_url=cli_env["AWS_ENDPOINT_URL"],
        region_name=cli_env.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=cli_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=cli_env["AWS_SECRET_ACCESS_KEY"],
    )
    secrets = [s for s in client.list_secrets()["SecretList"] if s["Name"].startswith("parley-jwt-")]
    assert len(secrets) == 1, secrets
    value: str = client.get_secret_value(SecretId=secrets[0]["ARN"])["SecretString"]
    return value


async def _scenario(ws_url: str, base: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        wrong = await http.post("/api/login", json={"username": "alice", "password": PASSWORD + "x"})
        assert wrong.status_code == 401
        token = (await http.post("/api/login", json={"username": "alice", "password": PASSWORD})).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        ticket = (await http.post("/api/ws-ticket", headers=headers)).json()["ticket"]
        async with websockets.connect(f"{ws_url}?ticket={ticket}") as ws:
            await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "m", "prompt": "hello"}}))
            while json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] not in ("done", "error"):
                pass
        # A used ticket and credentials in the wrong places are refused, and logged without the values.
        with contextlib.suppress(websockets.exceptions.InvalidStatus):
            async with websockets.connect(f"{ws_url}?ticket={ticket}") as ws:
                await ws.wait_closed()
        assert (await http.get(f"/api/conversations?token={token}")).status_code == 401
        assert (await http.get("/api/conversations", headers={"Authorization": f"Bearer {token}x"})).status_code == 401
        api_key = await _use_an_api_key(http, headers)
        assert (await http.post("/api/logout", headers=headers)).status_code == 204
        assert (await http.get("/api/conversations", headers=headers)).status_code == 401
    return {
        "session token": token,
        "ticket": ticket,
        "token signature": token.rsplit(".", 1)[1],
        "api key": api_key,
        "api key's secret part": api_key.removeprefix("parley_")[:40],
    }


async def _use_an_api_key(http: httpx.AsyncClient, session: dict[str, str]) -> str:
    """An API key made, used on /v1 (and where it does not belong, in a URL among them), then revoked."""
    made = (await http.post("/api/keys", json={"name": "logs"}, headers=session)).json()
    key = {"Authorization": f"Bearer {made['key']}"}
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    assert (await http.post("/v1/chat/completions", json=body, headers=key)).status_code == 200
    assert (await http.get(f"/v1/models?api_key={made['key']}")).status_code == 401
    assert (await http.get(f"/api/conversations?key={made['key']}")).status_code == 401
    assert (await http.get("/api/conversations", headers=key)).status_code == 401
    assert (await http.delete(f"/api/keys/{made['id']}", headers=session)).status_code == 204
    assert (await http.get("/v1/models", headers=key)).status_code == 401
    key_text: str = made["key"]
    return key_text
