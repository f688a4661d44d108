"""Usage and budgets over HTTP and the WebSocket: what an answer used shows up per day and model, admins read
anyone's and set budgets, and a used-up budget refuses a prompt before anything is saved."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import time

import httpx
import pytest
import websockets

from parley.core.chat.params import ChatParams
from parley.core.chat.request import ChatRequest
from parley.core.usage.meter import HOLD_SECONDS, UsageMeter
from parley.core.usage.months import day_key, month_key, next_month_start
from parley.core.usage.reports import UsageReports
from parley.runtime import build_chat
from parley.server.app import create_app
from parley.testing.mock_provider import Reply
from tests.conftest import PASSWORD
from tests.test_routes_chat import parse_sse

TODAY = day_key(datetime.datetime.now(datetime.UTC).timestamp())


@pytest.fixture
async def http(live_server):
    async with httpx.AsyncClient(base_url=live_server.base_url) as client:
        yield client


async def login(runtime, http, username, *, is_admin=False) -> dict[str, str]:
    await runtime.auth.create_user(username, PASSWORD, is_admin=is_admin)
    response = await http.post("/api/login", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
async def alice(runtime, http):
    return await login(runtime, http, "alice")


@pytest.fixture
async def admin(runtime, http):
    return await login(runtime, http, "root", is_admin=True)


async def ask_sse(http, headers, prompt, **body):
    async with http.stream(
        "POST", "/api/chat", json={"prompt": prompt, **body}, headers={**headers, "Accept": "text/event-stream"}
    ) as response:
        text = "".join([chunk async for chunk in response.aiter_text()])
    return response.status_code, text


async def socket(live_server, http, headers):
    ticket = (await http.post("/api/ws-ticket", headers=headers)).json()["ticket"]
    return await websockets.connect(f"{live_server.ws_url}?ticket={ticket}")


async def ask_ws(ws, msgid, prompt, stop_at_seq=None):
    await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": msgid, "prompt": prompt}}))
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if event.get("msgid") != msgid:
            continue
        events.append(event)
        if stop_at_seq is not None and event["type"] == "delta" and event["seq"] >= stop_at_seq:
            await ws.send(json.dumps({"action": "stop", "payload": {"msgid": msgid}}))
            stop_at_seq = None
        if event["type"] in ("done", "error"):
            return events


async def usage(http, headers, **params):
    response = await http.get("/api/usage", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_answer_over_sse_is_counted_with_the_providers_figures(http, alice, provider):
    provider.enqueue(Reply(tokens=["Hel", "lo"]))
    status, text = await ask_sse(http, alice, "Hi there")
    assert status == 200
    done = parse_sse(text)[-1][1]
    report = await usage(http, alice)
    # The mock provider reports the prompt's characters and one token per chunk.
    assert report["days"] == [
        {"day": TODAY, "model": "mock-model", "prompt_tokens": len("Hi there"), "completion_tokens": 2, "requests": 1}
    ]
    assert done["usage"] == {"prompt_tokens": len("Hi there"), "completion_tokens": 2}
    assert report["totals"] == {"prompt_tokens": len("Hi there"), "completion_tokens": 2, "requests": 1}
    assert report["user"] == "alice" and report["budget"] is None and report["viewer_is_admin"] is False
    assert report["to"] == TODAY


async def test_answers_over_the_websocket_are_counted_and_a_stopped_one_is_estimated(
    live_server, http, alice, provider, runtime
):
    provider.enqueue(Reply(tokens=["a", "b", "c"]), Reply(tokens=["abcd"] * 200, delay=0.01))
    async with await socket(live_server, http, alice) as ws:
        events = await ask_ws(ws, "w1", "Hello")
        assert events[-1]["type"] == "done"
        stopped = await ask_ws(ws, "w2", "Go on", stop_at_seq=8)
    assert stopped[-1]["finish_reason"] == "stopped"
    text = "".join(e["text"] for e in stopped if e["type"] == "delta")
    report = await usage(http, alice)
    (day,) = report["days"]
    # The first answer: the provider's figures. The stopped one: no figures came, so ~4 characters a token,
    # and its prompt (the whole context sent) estimated the same way.
    history = provider.history[-1].messages
    estimated_prompt = sum(4 + -(-len(m.content) // 4) for m in history)
    assert day["requests"] == 2
    assert day["completion_tokens"] == 3 + -(-len(text) // 4)
    assert day["prompt_tokens"] == len("Hello") + estimated_prompt
    user = await runtime.stores.users.get_user_by_name("alice")
    month = month_key(datetime.datetime.now(datetime.UTC).timestamp())
    assert await runtime.stores.usage.month_used(user.id, month) == day["prompt_tokens"] + day["completion_tokens"]


async def test_only_admins_read_others_usage(http, alice, admin, provider):
    provider.enqueue(Reply(tokens=["x"]))
    await ask_sse(http, alice, "mine")
    for params in ({"user": "root"}, {"all": "true"}, {"user": "alice"}):
        response = await http.get("/api/usage", params=params, headers=alice)
        assert response.status_code == 403, params
    own = await usage(http, admin)
    assert own["days"] == [] and own["viewer_is_admin"] is True
    of_alice = await usage(http, admin, user="alice")
    assert of_alice["user"] == "alice" and of_alice["totals"]["requests"] == 1
    everyone = await usage(http, admin, all="true")
    assert everyone["user"] is None and everyone["totals"] == of_alice["totals"]
    assert (await http.get("/api/usage", params={"user": "nobody"}, headers=admin)).status_code == 404


async def test_a_range_is_checked(http, alice):
    assert (await usage(http, alice, **{"from": "2026-01-01", "to": "2026-01-31"}))["days"] == []
    for params in ({"from": "2026-02-01", "to": "2026-01-01"}, {"from": "2020-01-01", "to": "2026-01-01"}):
        assert (await http.get("/api/usage", params=params, headers=alice)).status_code == 400
    assert (await http.get("/api/usage", params={"from": "yesterday"}, headers=alice)).status_code == 422


async def test_admins_set_read_and_clear_budgets_and_users_cannot(http, alice, admin):
    refused = await http.put("/api/admin/budgets/alice", json={"monthly_tokens": 5}, headers=alice)
    assert refused.status_code == 403
    assert (await http.get("/api/admin/budgets/alice", headers=alice)).status_code == 403
    assert (await http.delete("/api/admin/budgets/root", headers=alice)).status_code == 403
    response = await http.put("/api/admin/budgets/alice", json={"monthly_tokens": 100_000}, headers=admin)
    assert response.status_code == 200
    body = response.json()
    now = datetime.datetime.now(datetime.UTC)
    assert body["monthly_tokens"] == 100_000 and body["used"] == 0
    assert body["resets_at"] == next_month_start(month_key(now.timestamp())).isoformat()
    assert (await usage(http, alice))["budget"]["monthly_tokens"] == 100_000
    assert (await http.get("/api/admin/budgets/alice", headers=admin)).json()["monthly_tokens"] == 100_000
    assert (await http.put("/api/admin/budgets/alice", json={"monthly_tokens": 0}, headers=admin)).status_code == 422
    assert (await http.put("/api/admin/budgets/ghost", json={"monthly_tokens": 9}, headers=admin)).status_code == 404
    assert (await http.delete("/api/admin/budgets/alice", headers=admin)).status_code == 204
    assert (await http.get("/api/admin/budgets/alice", headers=admin)).json()["monthly_tokens"] is None


async def test_a_used_up_budget_refuses_over_sse_and_websocket_and_saves_nothing(
    live_server, http, alice, admin, provider, runtime
):
    await http.put("/api/admin/budgets/alice", json={"monthly_tokens": 10}, headers=admin)
    provider.enqueue(Reply(tokens=["one"]))
    status, _ = await ask_sse(http, alice, "a first question, long enough")  # under the budget when it started
    assert status == 200
    conversations = (await http.get("/api/conversations", headers=alice)).json()["items"]
    asked = len(provider.history)
    reset = next_month_start(month_key(datetime.datetime.now(datetime.UTC).timestamp()))
    expected = f"Your monthly budget of 10 tokens is used up; it resets on {reset.day} {reset:%B %Y} (UTC)."

    response = await http.post("/api/chat", json={"prompt": "again"}, headers=alice)
    assert response.status_code == 429
    assert response.json()["error"] == {"code": "budget_exceeded", "message": expected}
    assert 0 < int(response.headers["Retry-After"]) <= 31 * 86_400
    status, text = await ask_sse(http, alice, "and again", conversation_id=conversations[0]["id"])
    assert status == 429 and "budget_exceeded" in text

    async with await socket(live_server, http, alice) as ws:
        (error,) = await ask_ws(ws, "w-refused", "over the socket")
    assert (error["type"], error["code"], error["message"]) == ("error", "budget_exceeded", expected)
    assert error["retry_after"] > 0

    # Nothing was saved for the refused prompts and no model was asked.
    assert len(provider.history) == asked
    assert (await http.get("/api/conversations", headers=alice)).json()["items"] == conversations
    detail = (await http.get(f"/api/conversations/{conversations[0]['id']}", headers=alice)).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    # The month's counter holds what the one answer used, and nothing of the refusals.
    user = await runtime.stores.users.get_user_by_name("alice")
    month = month_key(datetime.datetime.now(datetime.UTC).timestamp())
    report = await usage(http, alice)
    assert await runtime.stores.usage.month_used(user.id, month) == sum(
        report["totals"][k] for k in ("prompt_tokens", "completion_tokens")
    )


async def test_a_budget_held_by_an_answer_whose_process_died_is_free_again_once_its_hold_expires(
    settings, runtime, http, alice, admin, provider
):
    await http.put("/api/admin/budgets/alice", json={"monthly_tokens": 50}, headers=admin)
    # A process took the answer's reservation (more than the whole budget) and died before it ran.
    user = await runtime.stores.users.get_user_by_name("alice")
    prepared = await runtime.chat.prepare(
        user, ChatRequest("a long story", msgid="dies", params=ChatParams(max_tokens=60))
    )
    assert (await usage(http, alice))["budget"]["used"] == prepared.reservation.tokens
    assert (await http.post("/api/chat", json={"prompt": "again"}, headers=alice)).status_code == 429

    # The same home a while later (its clock moved on past the hold): reading the usage gives the budget back.
    def later() -> float:
        return time.time() + HOLD_SECONDS + 1

    meter = UsageMeter(runtime.stores.usage, clock=later)
    chat = build_chat(settings, runtime.stores, runtime.models, meter=meter, wall_clock=later)
    reports = UsageReports(runtime.stores.users, runtime.stores.usage, clock=later)
    app = create_app(settings, dataclasses.replace(runtime, meter=meter, chat=chat, usage=reports))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as moved_on:
            assert (await usage(moved_on, alice))["budget"]["used"] == 0
            provider.enqueue(Reply(tokens=["Once ", "upon"]))
            status, text = await ask_sse(moved_on, alice, "a short one")
            assert status == 200 and parse_sse(text)[-1][0] == "done", text
            report = await usage(moved_on, alice)
    finally:
        await chat.aclose()
    used = report["totals"]["prompt_tokens"] + report["totals"]["completion_tokens"]
    assert report["totals"]["requests"] == 1 and 0 < used == report["budget"]["used"]
