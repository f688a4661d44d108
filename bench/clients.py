"""Clients that time a streamed answer the way a user sees it: when it was asked, when each token arrived.

Three ways to ask, timed identically: Parley over its WebSocket (or any server speaking the same
``sendprompt`` / ``delta`` / ``done`` protocol), Parley over SSE, and the fake upstream directly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.openai_sse import delta_texts
from bench.services import API_KEY, MODEL, PASSWORD

STREAM_TIMEOUT = 30.0
_ids = itertools.count(1)


def new_msgid() -> str:
    return f"b{next(_ids)}"


@dataclass
class StreamTrace:
    """One answer as the client saw it (``time.perf_counter`` seconds)."""

    sent: float
    tokens: list[float] = field(default_factory=list)
    done: float | None = None
    error: str | None = None
    conversation_id: str | None = None
    started: float | None = None  # Parley's `start` event: the user's message is saved

    @property
    def ok(self) -> bool:
        return self.error is None and self.done is not None

    @property
    def ttft(self) -> float | None:
        return self.tokens[0] - self.sent if self.tokens else None

    def gaps(self) -> list[float]:
        return [later - earlier for earlier, later in itertools.pairwise(self.tokens)]


def http_client(**kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client without a connection cap: the benchmarks bound concurrency themselves."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=2000)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(STREAM_TIMEOUT), **kwargs)


# Parley


class ParleyClient:
    """The HTTP side of Parley's API for one server."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self.ws_url = base_url.replace("http://", "ws://", 1) + "/ws"

    async def login(self, username: str, password: str = PASSWORD) -> str:
        response = await self.http.post(f"{self.base_url}/api/login", json={"username": username, "password": password})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    async def get(self, path: str, token: str) -> httpx.Response:
        response = await self.http.get(f"{self.base_url}{path}", headers=_bearer(token))
        response.raise_for_status()
        return response

    async def connect(self, token: str) -> ClientConnection:
        """A ticket, then the WebSocket it opens (the session token never goes in the URL)."""
        response = await self.http.post(f"{self.base_url}/api/ws-ticket", headers=_bearer(token))
        response.raise_for_status()
        return await open_ws(f"{self.ws_url}?ticket={response.json()['ticket']}")

    async def sse_prompt(
        self, token: str, prompt: str, conversation_id: str | None = None, *, params: dict[str, Any] | None = None
    ) -> StreamTrace:
        body: dict[str, Any] = {"id": new_msgid(), "prompt": prompt, "params": params or {}}
        if conversation_id:
            body["conversation_id"] = conversation_id
        trace = StreamTrace(sent=time.perf_counter())
        headers = {**_bearer(token), "Accept": "text/event-stream"}
        try:
            async with self.http.stream("POST", f"{self.base_url}/api/chat", json=body, headers=headers) as response:
                response.raise_for_status()
                async for event, data in _sse_events(response):
                    _record(trace, event, data)
                    if trace.done is not None or trace.error is not None:
                        break
        except (httpx.HTTPError, json.JSONDecodeError) as exc:
            trace.error = f"{type(exc).__name__}: {exc}"
        if trace.done is None and trace.error is None:
            trace.error = "the stream ended without done"
        return trace


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    event = "message"
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])
            event = "message"


def _record(trace: StreamTrace, kind: str, data: dict[str, Any]) -> None:
    """Note one Parley event (``start``, ``delta``, ``done``, ``error``) in the trace."""
    now = time.perf_counter()
    if kind == "delta":
        trace.tokens.append(now)
    elif kind == "start":
        trace.started = now
        trace.conversation_id = data.get("conversation_id")
    elif kind == "done":
        trace.done = now
    elif kind == "error":
        trace.error = f"{data.get('code')}: {data.get('message')}"


# WebSocket (Parley, or a peer speaking the same protocol)


async def open_ws(url: str) -> ClientConnection:
    # Compression stays as browsers negotiate it (permessage-deflate); the client never pings.
    return await connect(url, ping_interval=None, open_timeout=STREAM_TIMEOUT, max_size=2**20)


async def ws_prompt(
    ws: ClientConnection,
    prompt: str,
    conversation_id: str | None = None,
    *,
    params: dict[str, Any] | None = None,
    max_seconds: float = STREAM_TIMEOUT,
) -> StreamTrace:
    """Send one ``sendprompt`` and read its events until ``done`` or ``error``.
    One answer at a time per connection: the events of the previous one must have been read."""
    msgid = new_msgid()
    payload: dict[str, Any] = {"msgid": msgid, "prompt": prompt, "params": params or {}}
    if conversation_id:
        payload["conversation_id"] = conversation_id
    trace = StreamTrace(sent=time.perf_counter())
    try:
        await ws.send(json.dumps({"action": "sendprompt", "payload": payload}))
        async with asyncio.timeout(max_seconds):
            while trace.done is None and trace.error is None:
                event = json.loads(await ws.recv())
                _record(trace, event["type"], event)
    except Exception as exc:  # a timeout, a closed socket, a malformed event: this answer failed
        trace.error = f"{type(exc).__name__}: {exc}"
    return trace


class SocketPool:
    """Open WebSockets from ``opener()``, grown on demand (at most ``concurrency`` handshakes at a time)."""

    def __init__(self, opener: Callable[[], Awaitable[ClientConnection]], *, concurrency: int = 32) -> None:
        self._opener = opener
        self._slots = asyncio.Semaphore(concurrency)
        self.sockets: list[ClientConnection] = []

    async def grow(self, size: int) -> list[ClientConnection]:
        async def one() -> None:
            async with self._slots:
                self.sockets.append(await self._opener())

        missing = size - len(self.sockets)
        async with asyncio.timeout(60 + missing * 0.05):
            await asyncio.gather(*(one() for _ in range(missing)))
        return self.sockets[:size]

    async def aclose(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        self.sockets.clear()

    async def __aenter__(self) -> SocketPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# OpenAI-style streams: the fake upstream directly, and peers' chat completions APIs


async def openai_stream(
    http: httpx.AsyncClient, url: str, token: str, body: dict[str, Any], *, max_seconds: float = STREAM_TIMEOUT
) -> StreamTrace:
    """POST a streamed chat completion to ``url`` with a bearer ``token``; time it until ``[DONE]``."""
    trace = StreamTrace(sent=time.perf_counter())
    try:
        async with asyncio.timeout(max_seconds):
            async with http.stream("POST", url, json=body, headers=_bearer(token)) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    texts = delta_texts(line)
                    if texts is None:
                        trace.done = time.perf_counter()
                        break
                    if texts:
                        trace.tokens.append(time.perf_counter())
    except (httpx.HTTPError, json.JSONDecodeError, TimeoutError) as exc:
        trace.error = f"{type(exc).__name__}: {exc}"
    if trace.done is None and trace.error is None:
        trace.error = "the stream ended without [DONE]"
    return trace


def chat_body(prompt: str, *, model: str = MODEL, max_tokens: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return body


async def upstream_prompt(
    http: httpx.AsyncClient, base_url: str, prompt: str, *, max_tokens: int | None = None
) -> StreamTrace:
    """What the model costs on its own: the same question straight to the upstream's chat completions."""
    return await chat_completions_prompt(http, base_url, API_KEY, prompt, max_tokens=max_tokens)


async def chat_completions_prompt(
    http: httpx.AsyncClient, base_url: str, api_key: str, prompt: str, *, max_tokens: int | None = None
) -> StreamTrace:
    """One streamed OpenAI chat completion from any server that speaks the protocol (``base_url`` ends in /v1):
    the upstream itself, Parley's /v1, or another proxy."""
    return await openai_stream(http, f"{base_url}/chat/completions", api_key, chat_body(prompt, max_tokens=max_tokens))
