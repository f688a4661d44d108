"""The per-user request rate limit."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from parley.core.rate_limit import MemoryRequestRateStore, RateLimiter
from parley.errors import RateLimited
from parley.server.app import create_app
from parley.server.embedded import serving
from tests.conftest import PASSWORD


async def test_bursts_pass_then_requests_wait_for_the_bucket_to_refill():
    now = [0.0]
    limiter = RateLimiter(MemoryRequestRateStore(), per_minute=60, burst=3, clock=lambda: now[0])
    for _ in range(3):
        await limiter.check("alice")
    with pytest.raises(RateLimited) as refused:
        await limiter.check("alice")
    assert refused.value.retry_after == 1
    await limiter.check("bob")  # each user has their own bucket
    now[0] += 1.0
    await limiter.check("alice")
    with pytest.raises(RateLimited):
        await limiter.check("alice")


async def test_a_flood_from_one_user_gets_429_with_retry_after(settings, runtime):
    app = create_app(settings.with_overrides(requests_per_minute=10), runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        for name in ("alice", "bob"):
            await runtime.auth.create_user(name, PASSWORD)
        tokens = {
            name: (await client.post("/api/login", json={"username": name, "password": PASSWORD})).json()["token"]
            for name in ("alice", "bob")
        }
        statuses = []
        for _ in range(8):
            response = await client.get("/api/conversations", headers={"Authorization": f"Bearer {tokens['alice']}"})
            statuses.append(response.status_code)
        assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
        assert response.json()["error"]["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) >= 1
        other = await client.get("/api/conversations", headers={"Authorization": f"Bearer {tokens['bob']}"})
        assert other.status_code == 200
        assert (await client.get("/api/health")).status_code == 200


async def test_websocket_messages_draw_on_the_same_budget(settings, runtime):
    limited = settings.with_overrides(requests_per_minute=4)  # bursts of 2
    await runtime.auth.create_user("alice", PASSWORD)
    async with (
        serving(create_app(limited, runtime)) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        token = (await client.post("/api/login", json={"username": "alice", "password": PASSWORD})).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        ticket = (await client.post("/api/ws-ticket")).json()["ticket"]  # 1
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?ticket={ticket}") as ws:
            await ws.send(json.dumps({"action": "stop", "payload": {"msgid": "nothing"}}))  # 2
            assert json.loads(await ws.recv())["code"] == "not_found"
            await ws.send("not even json")  # refused before it is read: a flood of junk counts too
            refused = json.loads(await ws.recv())
            assert (refused["code"], refused["msgid"]) == ("rate_limited", None)
            assert refused["retry_after"] >= 1
        assert (await client.get("/api/conversations")).status_code == 429
