"""The OpenAI-compatible endpoint under load from one key holder, on both paths (on AWS across containers: the
slots are the store's): parallel /v1 streams beyond the user's answer cap get OpenAI's 429, and they share that cap
with the app's answers, so a key cannot double a user's share nor take the app's last slot once the cap is reached.
On the local server a shutdown mid-stream cuts the stream cleanly and settles its reservation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import httpx

from parley.testing.fake_openai import Script
from tests.attacks.targets import events_until_end, next_error, open_target, send_prompt


def _chat(content: str, **options) -> dict:
    return {"model": "fake-model", "messages": [{"role": "user", "content": content}], **options}


async def _key(player) -> dict[str, str]:
    response = await player.http.post("/api/keys", json={"name": "parallel"})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


@contextlib.asynccontextmanager
async def _open_stream(http: httpx.AsyncClient, auth: dict[str, str]):
    """A /v1 stream, open once its first text arrived."""
    async with http.stream("POST", "/v1/chat/completions", json=_chat("go", stream=True), headers=auth) as response:
        assert response.status_code == 200, await response.aread()
        lines = response.aiter_lines()
        async for line in lines:
            if '"content":"slow' in line:
                break
        yield lines


async def test_parallel_v1_streams_share_the_users_answer_cap_with_the_app(target, ledger):
    player = await target.player()
    auth = await _key(player)
    target.upstream.script = Script(tokens=["slow "] * 100, token_delay=0.1)  # ten seconds an answer
    cap = target.settings.max_generations_per_user
    async with contextlib.AsyncExitStack() as streams:
        http = await streams.enter_async_context(target.client(timeout=30))
        for _ in range(cap - 1):
            await asyncio.wait_for(streams.enter_async_context(_open_stream(http, auth)), 30)
        # The app still has the last slot: a key holder's streams take no more than theirs.
        async with await player.socket() as ws:
            await send_prompt(ws, "from the app", "app-1")
            start = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert start["type"] == "start", start
            # Now the cap is reached, by both together: /v1 gets OpenAI's 429, the app its own refusal.
            for attempt in range(3):
                refused = await http.post("/v1/chat/completions", json=_chat(f"more {attempt}"), headers=auth)
                assert refused.status_code == 429, refused.text
                error = refused.json()["error"]
                assert error["code"] == "rate_limit_exceeded" and f"{cap} answers" in error["message"]
                ledger.attempt(target.path, "v1 answers over the shared cap")
            await send_prompt(ws, "another from the app", "app-2")
            refusal = await next_error(ws, 20)
            assert (refusal["code"], refusal.get("msgid")) == ("too_many_generations", "app-2")
            ledger.attempt(target.path, "app answers over the shared cap")
            assert (await events_until_end(ws, "app-1", wait=30))[-1]["type"] == "done"
    # Every stream hung up or ended: the slots are free again, for /v1 as for the app.
    target.upstream.script = Script(tokens=("again",))
    async with target.client(timeout=30) as http:
        deadline = time.monotonic() + 30
        while (answer := await http.post("/v1/chat/completions", json=_chat("again"), headers=auth)).status_code == 429:
            assert time.monotonic() < deadline, "the slots of streams that ended were not freed"
            await asyncio.sleep(0.2)
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == "again"


async def test_a_shutdown_mid_stream_ends_it_cleanly_and_leaves_no_reservation_held(
    tmp_path, upstream, monkeypatch, ledger
):
    """The local server only: a Lambda function stopped mid-stream (at its time limit) ends without a word, and
    its reservation stays counted (see docs/api.md)."""
    async with open_target("local", tmp_path, upstream, {}, monkeypatch) as target:
        runtime = target.runtime
        assert runtime is not None
        player = await target.player()
        auth = await _key(player)
        upstream.script = Script(tokens=["slow "] * 100, token_delay=0.1)
        async with target.client(timeout=30) as http, _open_stream(http, auth) as lines:
            runtime.completions.begin_shutdown(0.5)
            closing = asyncio.create_task(runtime.completions.aclose())
            rest = [line async for line in lines if line.startswith("data: ")]
            await asyncio.wait_for(closing, 10)
        assert "data: [DONE]" not in rest
        assert json.loads(rest[-1][6:])["error"]["code"] == "shutting_down"
        user = await runtime.stores.users.get_user_by_name(player.username)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        days = await runtime.stores.usage.daily(user.id, today, today)
        recorded = sum(day.prompt_tokens + day.completion_tokens for day in days)
        assert 0 < recorded == await runtime.stores.usage.month_used(user.id, today[:7])
        ledger.attempt("local", "shutdown mid-stream leaves a reservation held")
