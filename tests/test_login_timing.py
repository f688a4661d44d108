"""Unknown user and wrong password cost the same: the medians of 50 timed attempts each are within 20%."""

from __future__ import annotations

import statistics
import time

import httpx

from parley.config import Settings, ThrottleRule
from parley.core.providers.registry import ModelRegistry
from parley.runtime import open_runtime
from parley.server.app import create_app
from parley.testing.mock_provider import MockProvider
from tests.conftest import PASSWORD

TRIES = 50


async def test_unknown_user_and_wrong_password_take_the_same_time(tmp_path):
    # The production argon2id parameters; throttling is out of the way so every try reaches the hash.
    settings = Settings(
        data_dir=tmp_path / "data",
        local_model=False,
        throttle_per_user=ThrottleRule(limit=10_000, window_seconds=60),
        throttle_per_address=ThrottleRule(limit=10_000, window_seconds=60),
    )
    registry = ModelRegistry()
    provider = MockProvider()
    registry.add_provider(provider, await provider.list_models())
    async with open_runtime(settings, models=registry) as runtime:
        await runtime.auth.create_user("alice", PASSWORD)
        app = create_app(settings, runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:

            async def timed(username: str) -> float:
                started = time.perf_counter()
                response = await client.post("/api/login", json={"username": username, "password": "not-the-password"})
                assert response.status_code == 401
                return time.perf_counter() - started

            await timed("alice")  # warm-up: the dummy hash is made on the first unknown user
            await timed("nobody")
            wrong_password, unknown_user = [], []
            for _ in range(TRIES):  # interleaved, so drift on the machine hits both alike
                wrong_password.append(await timed("alice"))
                unknown_user.append(await timed("nobody"))
    a, b = statistics.median(wrong_password), statistics.median(unknown_user)
    assert abs(a - b) / max(a, b) < 0.2, (a, b)
