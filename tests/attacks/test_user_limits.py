"""Per-user limits hold on both paths (on AWS across Lambda containers): simultaneous answers, requests
per minute over HTTP and WebSocket messages; the refused get a clear code, the rest keep working."""

from __future__ import annotations

import asyncio
import json

import pytest

from parley.testing.fake_openai import Script
from tests.attacks.targets import events_until_end, send_prompt


async def test_a_user_gets_at_most_four_answers_at_once(target, ledger):
    player = await target.player()
    # Ten seconds an answer: the first must still run when the fifth prompt arrives, however slowly a loaded
    # machine passes five prompts through the emulated gateway.
    target.upstream.script = Script(tokens=["slow "] * 100, token_delay=0.1)
    limit = 4
    sockets = [await player.socket() for _ in range(limit + 1)]
    try:
        for i, ws in enumerate(sockets):  # one prompt per socket, as from five tabs
            await send_prompt(ws, f"prompt {i}", f"cap{i}")
        firsts = [json.loads(await asyncio.wait_for(ws.recv(), 20)) for ws in sockets]
        ledger.attempt(target.path, "answers over the cap", 1)
        assert sorted(event["type"] for event in firsts) == ["error"] + ["start"] * limit
        refused = next(event for event in firsts if event["type"] == "error")
        assert refused["code"] == "too_many_generations"
        for ws, first in zip(sockets, firsts, strict=True):
            if first["type"] == "start":
                assert (await events_until_end(ws, first["msgid"]))[-1]["type"] == "done"
        # Room again once they finished.
        target.upstream.script = Script(tokens=("again",))
        again = await player.ask("again", "cap-again", ws=sockets[0])
        assert again[-1]["type"] == "done"
    finally:
        for ws in sockets:
            await ws.close()
    listing = (await player.http.get("/api/conversations")).json()["items"]
    assert len(listing) == limit + 1  # the refused prompt wrote nothing


@pytest.mark.target_settings(requests_per_minute=20)
async def test_requests_beyond_the_rate_get_429_with_retry_after(target, ledger):
    player = await target.player()
    other = await target.player()
    async with await player.socket() as ws:  # opened while there is budget
        statuses = []
        for _ in range(40):
            response = await player.http.get("/api/conversations")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert 0 < int(response.headers["retry-after"]) <= 60
        assert set(statuses) == {200, 429} and statuses.index(429) <= 20
        # WebSocket messages draw on the same budget.
        await send_prompt(ws, "one more", "over")
        error = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert (error["type"], error["code"]) == ("error", "rate_limited")
    ledger.attempt(target.path, "requests over the rate", statuses.count(429) + 1)
    async with target.client() as http:  # health is never rate limited
        assert (await http.get("/api/health")).status_code == 200
    assert (await other.http.get("/api/conversations")).status_code == 200  # the limit is per user
