"""The peer of the streams benchmark: the least a chat relay can do.

A Starlette WebSocket endpoint speaking Parley's protocol (``sendprompt`` in; ``delta`` and ``done`` out)
that relays the upstream's stream with httpx: no accounts, no history, no context, no retries.

    BENCH_UPSTREAM_URL=http://127.0.0.1:PORT/v1 python -m uvicorn bench.peers.passthrough:app --port 0
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

UPSTREAM_URL = os.environ.get("BENCH_UPSTREAM_URL", "http://127.0.0.1:8001/v1")
UPSTREAM_KEY = os.environ.get("BENCH_UPSTREAM_KEY", "sk-bench")
MODEL = os.environ.get("BENCH_UPSTREAM_MODEL", "fake-model")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=2000)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        app.state.upstream = client
        yield


async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    upstream: httpx.AsyncClient = websocket.app.state.upstream
    try:
        while True:
            payload = json.loads(await websocket.receive_text())["payload"]
            msgid, seq = payload["msgid"], 0
            body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": payload["prompt"]}]}
            if "max_tokens" in payload.get("params", {}):
                body["max_tokens"] = payload["params"]["max_tokens"]
            headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
            async with upstream.stream("POST", f"{UPSTREAM_URL}/chat/completions", json=body, headers=headers) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    for choice in json.loads(line[6:])["choices"]:
                        text = choice["delta"].get("content")
                        if text:
                            seq += 1
                            event = {"type": "delta", "msgid": msgid, "seq": seq, "text": text}
                            await websocket.send_text(json.dumps(event))
            await websocket.send_text(json.dumps({"type": "done", "msgid": msgid}))
    except WebSocketDisconnect:
        pass


app = Starlette(routes=[WebSocketRoute("/ws", relay)], lifespan=lifespan)
