"""Usage and budgets on both paths: what an answer used is recorded with the upstream's own figures, a user
cannot read others' usage or touch budgets, and prompts sent in parallel cannot overshoot a budget (on AWS
across Lambda containers: the reservation is one conditional write)."""

from __future__ import annotations

import asyncio
import time

import pytest

from parley.core.providers.base import ChatMessage
from parley.core.usage.estimate import estimate_prompt_tokens
from parley.testing.fake_openai import Script


async def usage_when_counted(player, requests: int, wait: float = 10) -> dict:
    """The player's usage once ``requests`` answers are in it (an answer settles as it ends)."""
    deadline = time.monotonic() + wait
    while True:
        response = await player.http.get("/api/usage")
        assert response.status_code == 200, response.text
        report = response.json()
        if report["totals"]["requests"] >= requests or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.05)


async def test_an_answer_is_counted_with_the_upstreams_figures(target, ledger):
    player = await target.player()
    events = await player.ask("three little words", "counted")
    done = events[-1]
    assert done["type"] == "done"
    # The fake upstream counts a prompt's words and one token per chunk it sends.
    assert done["usage"] == {"prompt_tokens": 3, "completion_tokens": 6}
    (day,) = (await usage_when_counted(player, 1))["days"]
    assert (day["prompt_tokens"], day["completion_tokens"], day["requests"]) == (3, 6, 1)
    assert day["model"] == events[0]["model"]
    ledger.attempt(target.path, "usage recorded", 1)


async def test_a_user_cannot_read_others_usage_or_set_budgets(target, ledger):
    player = await target.player()
    victim = await target.player()
    await victim.ask("private", "private-usage")
    attempts = [
        ("GET", "/api/usage", {"user": victim.username}, None),
        ("GET", "/api/usage", {"all": "true"}, None),
        ("GET", f"/api/admin/budgets/{victim.username}", None, None),
        ("PUT", f"/api/admin/budgets/{victim.username}", None, {"monthly_tokens": 1}),
        ("PUT", f"/api/admin/budgets/{player.username}", None, {"monthly_tokens": 10**9}),
        ("DELETE", f"/api/admin/budgets/{player.username}", None, None),
    ]
    for method, path, params, body in attempts:
        response = await player.http.request(method, path, params=params, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert victim.username not in response.text
    own = (await player.http.get("/api/usage")).json()
    assert own["user"] == player.username and own["days"] == []
    # The admin sees the victim's answer; the victim's budget was never set.
    admin = await target.player(admin=True)
    seen = (await admin.http.get("/api/usage", params={"user": victim.username})).json()
    assert seen["totals"]["requests"] == 1 and seen["budget"] is None
    everyone = (await admin.http.get("/api/usage", params={"all": "true"})).json()
    assert everyone["user"] is None and everyone["totals"] == seen["totals"]
    ledger.attempt(target.path, "others' usage and budgets", len(attempts))


# Generous upstream timeouts: twelve answers at once on a loaded machine must not end as provider timeouts.
@pytest.mark.target_settings(max_generations_per_user=16, first_token_timeout=30.0, token_idle_timeout=30.0)
async def test_parallel_prompts_cannot_overshoot_a_budget(target, ledger):
    player = await target.player()
    budget, max_tokens = 100, 10
    assert await target.cli("budget", "set", player.username, str(budget)) == 0
    target.upstream.script = Script(tokens=["tok "] * 20, token_delay=0.02)  # cut at max_tokens: 10 each

    async def ask(i: int):
        body = {"prompt": f"p{i}", "id": f"par-{i}", "params": {"max_tokens": max_tokens}}
        return await player.http.post("/api/chat", json=body)

    responses = await asyncio.gather(*(ask(i) for i in range(12)))
    statuses = [response.status_code for response in responses]
    refused = [response.json()["error"] for response in responses if response.status_code == 429]
    assert set(statuses) == {200, 429}, [r.text for r in responses]
    assert {error["code"] for error in refused} == {"budget_exceeded"}
    assert "resets on" in refused[0]["message"]
    # Each answer held its max_tokens and its prompt's estimate; an answer starts only while the month's count is
    # under the budget, so what was used is at most the budget plus one answer's reservation.
    reservation = max_tokens + estimate_prompt_tokens([ChatMessage("user", "p11")])
    report = await usage_when_counted(player, statuses.count(200))
    used = report["totals"]["prompt_tokens"] + report["totals"]["completion_tokens"]
    assert report["totals"]["requests"] == statuses.count(200)
    assert used <= budget + reservation
    # A prompt was refused only once the count (used, plus held by answers still running) reached the budget.
    assert statuses.count(200) * reservation >= budget
    assert report["budget"]["monthly_tokens"] == budget and report["budget"]["used"] == used
    # Nothing was saved for the refused prompts.
    listing = (await player.http.get("/api/conversations", params={"limit": 50})).json()["items"]
    assert len(listing) == statuses.count(200)
    ledger.attempt(target.path, "prompts over a budget", len(refused))
