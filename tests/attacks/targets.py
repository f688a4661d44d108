"""The two paths the attack suite runs against, behind one interface.

- ``local``: the FastAPI app exactly as ``parley serve`` builds it (it opens its own runtime from settings),
  served by uvicorn on a loopback port, with SQLite in a temp dir.
- ``aws``: the serverless path through ``make aws-local``'s emulation: API Gateway (HTTP API + authorizer,
  WebSocket API), the real Lambda function classes, SNS to the worker, and DynamoDB/SNS/Secrets Manager
  from moto.

Both use the openai provider against a scripted fake upstream on loopback, and both get their accounts
from the ``parley users`` command, as an operator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parley.cli.main import main as parley_cli
from parley.config import Settings
from parley.runtime import Runtime
from parley.server.uvicorn_config import KEEP_ALIVE_SECONDS
from parley.testing.fake_openai import FakeOpenAI

PASSWORD = "attack-suite password 1"
UPSTREAM_KEY = "sk-attack-suite-upstream"
PATHS = ("local", "aws")
# A client must drop an idle connection before the server does. httpx and uvicorn both default to 5 s, so a
# request written just as the server's keep-alive runs out meets a closing connection (httpx.ReadError): the
# socket flood's player, idle while each batch of sockets opens, met it in CI.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=KEEP_ALIVE_SECONDS / 2)

# Quick saves, retries and timeouts keep the fault tests short; everything else is the production default
# (argon2id included, so login timing is measured on the real cost).
SUITE_SETTINGS: dict[str, Any] = {
    "save_interval_seconds": 0.05,
    "retry_base_delay": 0.01,
    "first_token_timeout": 2.0,
    "token_idle_timeout": 1.0,
    "ws_post_interval": 0.05,
}

# How each path refuses a WebSocket it will not serve. API Gateway's $connect can only refuse the handshake
# (the client sees the status); the local server accepts, then closes with a code that says why.
Refusal = tuple[str, int]  # ("http", status) or ("close", code)


@dataclass
class Player:
    """A logged-in user of a target: an HTTP client carrying the session token, and socket helpers."""

    target: Target
    username: str
    password: str
    token: str
    http: httpx.AsyncClient

    async def ticket(self) -> str:
        response = await self.http.post("/api/ws-ticket")
        assert response.status_code == 200, response.text
        ticket: str = response.json()["ticket"]
        return ticket

    async def socket(self, **options: Any) -> ClientConnection:
        return await websockets.connect(f"{self.target.ws_url}?ticket={await self.ticket()}", **options)

    async def ask(self, prompt: str, msgid: str, ws: ClientConnection | None = None, **payload: Any) -> list[dict]:
        """Send one prompt and collect that msgid's events until done or error."""
        async with contextlib.AsyncExitStack() as stack:
            if ws is None:
                ws = await stack.enter_async_context(await self.socket())
            await send_prompt(ws, prompt, msgid, **payload)
            return await events_until_end(ws, msgid)

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/conversations/{conversation_id}")
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    async def settled(self, conversation_id: str, wait: float = 20) -> dict[str, Any]:
        """The conversation once no answer in it is still streaming (answers finish in the background)."""
        deadline = time.monotonic() + wait
        while True:
            detail = await self.conversation(conversation_id)
            if all(m["status"] != "streaming" for m in detail["messages"]):
                return detail
            assert time.monotonic() < deadline, f"an answer is still streaming after {wait} s: {detail}"
            await asyncio.sleep(0.05)


async def send_prompt(ws: ClientConnection, prompt: str, msgid: str, **payload: Any) -> None:
    await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": msgid, "prompt": prompt, **payload}}))


async def events_until_end(ws: ClientConnection, msgid: str, wait: float = 20) -> list[dict]:
    events: list[dict] = []
    while not events or events[-1]["type"] not in ("done", "error"):
        event = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if event.get("msgid") == msgid:
            events.append(event)
    return events


async def next_error(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    while True:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if event["type"] == "error":
            return event


async def closed_within(ws: ClientConnection, seconds: float) -> int | None:
    """The close code if the server closes ``ws`` within ``seconds`` (messages before it are skipped)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


@dataclass
class Target:
    path: str
    url: str
    api_url: str  # the HTTP API at its own URL: on AWS without CloudFront in front; locally the same server
    ws_url: str
    upstream: FakeOpenAI
    settings: Settings
    refused: Refusal  # how this path refuses a socket (bad ticket, foreign origin)
    session_end_close: int  # the close code a socket gets when its session ends
    signing_secret: str
    _stack: contextlib.AsyncExitStack
    _session_closer: tuple[Any, tuple[str, ...]]  # what closes an ended session's sockets, and its methods
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    runtime: Runtime | None = None  # the server's services, when it runs in this process (local)

    async def cli(self, *args: str, stdin: str = "") -> int:
        """Run ``parley ARGS`` against this target's store, as an operator would."""
        saved = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            return await asyncio.to_thread(parley_cli, list(args))
        finally:
            sys.stdin = saved

    async def add_user(self, name: str | None = None, password: str = PASSWORD, *, admin: bool = False) -> str:
        name = name or f"user{next(self._names)}"
        flags = ("--admin",) if admin else ()
        assert await self.cli("users", "add", name, *flags, "--password-stdin", stdin=password + "\n") == 0
        return name

    def client(self, url: str | None = None, **options: Any) -> httpx.AsyncClient:
        options.setdefault("timeout", 20)
        return httpx.AsyncClient(base_url=url or self.url, limits=CLIENT_LIMITS, **options)

    async def player(self, name: str | None = None, *, admin: bool = False) -> Player:
        """A new account (an administrator's with ``admin``), logged in."""
        username = await self.add_user(name, admin=admin)
        return await self.login(username)

    async def login(self, username: str, password: str = PASSWORD) -> Player:
        http = await self._stack.enter_async_context(self.client())
        response = await http.post("/api/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        return Player(self, username, password, token, http)

    @contextlib.asynccontextmanager
    async def session_end_stalled(self) -> AsyncIterator[None]:
        """A fault: nothing closes the sockets of a session that ends meanwhile, as when the session-end function
        lags behind the table's stream or gives up (on AWS), or before the watcher's next sweep (locally)."""
        closer, methods = self._session_closer

        async def nothing(*args: Any) -> None:
            return None

        for name in methods:
            setattr(closer, name, nothing)  # an instance attribute, over the class's method
        try:
            yield
        finally:
            for name in methods:
                delattr(closer, name)

    async def try_socket(self, query: str, **options: Any) -> tuple[Refusal | None, ClientConnection | None]:
        """Open ``/ws?QUERY``; returns how it was refused, or the open socket (caller closes it). The handshake may
        take long on a busy machine (the serverless path crosses the gateway, the authorizer and moto): what is
        tested is whether a socket is let in, not how fast."""
        options.setdefault("open_timeout", 60)
        try:
            ws = await websockets.connect(f"{self.ws_url}?{query}", **options)
        except InvalidStatus as refused:
            return ("http", refused.response.status_code), None
        code = await closed_within(ws, 1.0)
        if code is not None:
            return ("close", code), None
        return None, ws


def _environment(upstream: FakeOpenAI) -> dict[str, str]:
    return {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": UPSTREAM_KEY, "PARLEY_LOCAL_MODEL": "off"}


def _web_dir(root: Path) -> Path:
    """A stand-in for the built web app, so the static routes are served on both paths."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text("<!doctype html><title>Parley</title><div id=root></div>")
    return root


@contextlib.asynccontextmanager
async def open_target(
    path: str, root: Path, upstream: FakeOpenAI, overrides: Mapping[str, Any], environ: Any
) -> AsyncIterator[Target]:
    """Start ``path`` ('local' or 'aws'); ``environ`` (pytest's monkeypatch) points the CLI at its store."""
    async with contextlib.AsyncExitStack() as stack:
        opener = _OPENERS[path]
        target = await stack.enter_async_context(opener(root, upstream, {**SUITE_SETTINGS, **overrides}, environ))
        target._stack = stack
        yield target


@contextlib.asynccontextmanager
async def _local(root: Path, upstream: FakeOpenAI, overrides: Mapping[str, Any], environ: Any) -> AsyncIterator[Target]:
    from parley.server.app import create_app
    from parley.server.embedded import serving

    env = {**_environment(upstream), "PARLEY_DATA_DIR": str(root / "data"), "PARLEY_STORE": "sqlite"}
    for name, value in env.items():
        environ.setenv(name, value)
    settings = Settings.from_env(env, web_dir=_web_dir(root / "web"), **overrides)
    app = create_app(settings)
    async with serving(app, settings=settings) as port:
        yield Target(
            path="local",
            url=f"http://127.0.0.1:{port}",
            api_url=f"http://127.0.0.1:{port}",
            ws_url=f"ws://127.0.0.1:{port}/ws",
            upstream=upstream,
            settings=settings,
            refused=("close", 1008),
            session_end_close=1008,
            signing_secret=settings.jwt_secret_path.read_text().strip(),
            _stack=contextlib.AsyncExitStack(),
            _session_closer=(app.state.sessions, ("sweep", "close_session")),
            runtime=app.state.runtime,
        )


@contextlib.asynccontextmanager
async def _aws(root: Path, upstream: FakeOpenAI, overrides: Mapping[str, Any], environ: Any) -> AsyncIterator[Target]:
    import boto3

    from parley.aws.local.deployment import run_local_deployment

    async with run_local_deployment(
        data_dir=root / "lambda", env=_environment(upstream), web_dir=_web_dir(root / "web"), overrides=overrides
    ) as deployment:
        for name, value in {**deployment.cli_env(), "PARLEY_DATA_DIR": str(root / "cli")}.items():
            environ.setenv(name, value)
        secrets = boto3.client("secretsmanager", endpoint_url=deployment.aws_endpoint)
        arn = deployment.settings.jwt_secret_arn
        secret = (await asyncio.to_thread(secrets.get_secret_value, SecretId=arn))["SecretString"]
        yield Target(
            path="aws",
            url=deployment.url,
            api_url=deployment.api_url,
            ws_url=deployment.ws_url,
            upstream=upstream,
            settings=deployment.settings,
            refused=("http", 403),
            session_end_close=1001,  # API Gateway closes with "going away" on DeleteConnection
            signing_secret=secret,
            _stack=contextlib.AsyncExitStack(),
            _session_closer=(deployment.sessions_stream, ("poll",)),
        )
        await deployment.gateway.drain()


_OPENERS = {"local": _local, "aws": _aws}
