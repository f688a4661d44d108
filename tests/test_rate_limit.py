"""The per-user request rate limit."""

from __future__ import annotations

import httpx
import pytest

from parley.core.rate_limit import RateLimiter
from parley.errors import RateLimited
from parley.server.app import create_app
from tests.conftest import PASSWORD


def test_bursts_pass_then_requests_wait_for_the_bucket_to_refill():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("alice")
    with pytest.raises(RateLimited) as refused:
        limiter.check("alice")
    assert refused.value.retry_after == 1
    limiter.check("bob")  # each user has their own bucket
    now[0] += 1.0
    limiter.check("alice")
    with pytest.raises(RateLimited):
        limiter.check("alice")


async def test_a_flood_from_one_user_gets_429_with_retry_after(settings, runtime):
    app = create_app(settings.with_overrides(requests_per_minute=10), runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
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
