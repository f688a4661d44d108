"""The WebSocket over a real uvicorn on loopback: tickets, order, stop, disconnects, failures."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parley.errors import StreamInterrupted
from parley.testing.mock_provider import Reply
from tests.conftest import PASSWORD


@pytest.fixture
async def http(live_server):
    async with httpx.AsyncClient(base_url=live_server.base_url) as client:
        yield client


@pytest.fixture
async def token(runtime, http):
    await runtime.auth.create_user("alice", PASSWORD)
    response = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
    return response.json()["token"]


async def ticket_for(http, token) -> str:
    response = await http.post("/api/ws-ticket", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return response.json()["ticket"]


async def connect(live_server, http, token, **kwargs):
    return await websockets.connect(f"{live_server.ws_url}?ticket={await ticket_for(http, token)}", **kwargs)


async def send_prompt(ws, msgid, prompt="hi", **payload):
    await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": msgid, "prompt": prompt, **payload}}))


async def read_until_end(ws, msgid):
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if event.get("msgid") == msgid:
            events.append(event)
            if event["type"] in ("done", "error"):
                return events


async def test_streams_start_deltas_in_order_then_done(live_server, http, token, provider):
    provider.enqueue(Reply(tokens=[f"w{i} " for i in range(20)]))
    async with await connect(live_server, http, token) as ws:
        await send_prompt(ws, "m1", "Tell me a story")
        events = await read_until_end(ws, "m1")
    assert events[0]["type"] == "start"
    assert events[0]["conversation_id"] and events[0]["message_id"]
    deltas = [e for e in events if e["type"] == "delta"]
    assert [d["seq"] for d in deltas] == [sum(len(f"w{j} ") for j in range(i + 1)) for i in range(20)]
    assert events[-1]["type"] == "done" and events[-1]["finish_reason"] == "stop"
    conversations = await http.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
    assert conversations.json()["items"][0]["id"] == events[0]["conversation_id"]


async def test_stop_ends_the_answer_early(live_server, http, token, provider):
    provider.enqueue(Reply(tokens=["x"] * 500, delay=0.01))
    async with await connect(live_server, http, token) as ws:
        await send_prompt(ws, "m2")
        events = []
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            events.append(event)
            if event["type"] == "delta" and event["seq"] == 3:
                await ws.send(json.dumps({"action": "stop", "payload": {"msgid": "m2"}}))
            if event["type"] in ("done", "error"):
                break
    assert events[-1] == {"type": "done", "msgid": "m2", "finish_reason": "stopped", "usage": None}
    assert len([e for e in events if e["type"] == "delta"]) < 100


async def test_disconnect_mid_answer_still_saves_it(live_server, http, token, provider, runtime):
    provider.enqueue(Reply(tokens=[f"{i}," for i in range(30)], delay=0.01))
    ws = await connect(live_server, http, token)
    await send_prompt(ws, "m3")
    start = json.loads(await ws.recv())
    await ws.close()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(100):
        detail = (await http.get(f"/api/conversations/{start['conversation_id']}", headers=headers)).json()
        if detail["messages"][-1]["status"] == "complete":
            break
        await asyncio.sleep(0.05)
    assert detail["messages"][-1]["content"] == "".join(f"{i}," for i in range(30))
    assert detail["messages"][-1]["status"] == "complete"


async def test_provider_failure_mid_stream_sends_error_and_saves_partial(live_server, http, token, provider):
    provider.enqueue(Reply(tokens=["a", "b", "c", "d"], error=StreamInterrupted(), error_after=2))
    async with await connect(live_server, http, token) as ws:
        await send_prompt(ws, "m4")
        events = await read_until_end(ws, "m4")
    assert events[-1]["type"] == "error" and events[-1]["code"] == "stream_interrupted"
    detail = (
        await http.get(
            f"/api/conversations/{events[0]['conversation_id']}", headers={"Authorization": f"Bearer {token}"}
        )
    ).json()
    assert detail["messages"][-1]["content"] == "ab"
    assert detail["messages"][-1]["status"] == "interrupted"


async def test_a_ticket_works_once(live_server, http, token):
    ticket = await ticket_for(http, token)
    async with websockets.connect(f"{live_server.ws_url}?ticket={ticket}") as ws:
        await send_prompt(ws, "m5")
        assert json.loads(await ws.recv())["type"] == "start"
    async with websockets.connect(f"{live_server.ws_url}?ticket={ticket}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1008


@pytest.mark.parametrize("ticket", ["", "garbage", "session-token"])
async def test_bad_tickets_are_closed_with_1008(live_server, http, token, ticket):
    if ticket == "session-token":
        ticket = token
    async with websockets.connect(f"{live_server.ws_url}?ticket={ticket}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1008


async def test_foreign_origin_is_refused(live_server, http, token):
    with pytest.raises(InvalidStatus) as refused:
        await connect(live_server, http, token, origin="https://evil.example")
    assert refused.value.response.status_code == 403


async def test_same_origin_is_accepted(live_server, http, token):
    async with await connect(live_server, http, token, origin=live_server.base_url) as ws:
        await send_prompt(ws, "m6")
        assert json.loads(await ws.recv())["type"] == "start"


async def test_malformed_messages_get_an_error_event_and_the_socket_stays_open(live_server, http, token):
    async with await connect(live_server, http, token) as ws:
        await ws.send("{not json")
        assert json.loads(await ws.recv())["code"] == "invalid_input"
        await ws.send(json.dumps({"action": "dance", "payload": {}}))
        assert json.loads(await ws.recv())["code"] == "invalid_input"
        await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "m7"}}))
        error = json.loads(await ws.recv())
        assert error["code"] == "invalid_input" and error["msgid"] == "m7"
        await ws.send(json.dumps({"action": "stop", "payload": {"msgid": "nothing-running"}}))
        assert json.loads(await ws.recv())["code"] == "not_found"
        await send_prompt(ws, "m8")
        assert (await read_until_end(ws, "m8"))[-1]["type"] == "done"


async def test_another_users_conversation_is_not_found_over_ws(live_server, http, token, runtime):
    async with await connect(live_server, http, token) as ws:
        await send_prompt(ws, "a1")
        conversation_id = (await read_until_end(ws, "a1"))[0]["conversation_id"]
    await runtime.auth.create_user("bob", PASSWORD)
    bob_token = (await http.post("/api/login", json={"username": "bob", "password": PASSWORD})).json()["token"]
    async with await connect(live_server, http, bob_token) as ws:
        await send_prompt(ws, "b1", conversation_id=conversation_id)
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["code"] == "not_found"
        await ws.send(json.dumps({"action": "stop", "payload": {"msgid": "a1"}}))
        assert json.loads(await ws.recv())["code"] == "not_found"


async def test_a_double_click_sends_one_message(live_server, http, token, provider):
    async with await connect(live_server, http, token) as ws:
        await send_prompt(ws, "twice")
        await send_prompt(ws, "twice")
        events = []
        while len([e for e in events if e["type"] in ("done", "error")]) < 2:
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
    assert [e["code"] for e in events if e["type"] == "error"] == ["duplicate_msgid"]
    assert len([e for e in events if e["type"] == "done"]) == 1
    assert len(provider.history) == 1


async def closed_within(ws, seconds):
    started = asyncio.get_running_loop().time()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), seconds)
    return closed.value.rcvd.code, asyncio.get_running_loop().time() - started


async def end_session(http, token, runtime, ending):
    if ending == "logout":
        response = await http.post("/api/logout", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 204
    elif ending == "password change":
        await runtime.auth.change_password("alice", "another long password")
    else:
        await runtime.auth.set_disabled("alice", True)


@pytest.mark.parametrize("ending", ["logout", "password change", "disabled"])
async def test_ending_the_session_closes_its_open_sockets_within_a_second(live_server, http, token, runtime, ending):
    async with await connect(live_server, http, token) as ws:
        await send_prompt(ws, "before")
        assert (await read_until_end(ws, "before"))[-1]["type"] == "done"
        await end_session(http, token, runtime, ending)
        code, elapsed = await closed_within(ws, 3)
    assert code == 1008
    assert elapsed < 1.0


@pytest.mark.parametrize("ending", ["logout", "password change", "disabled"])
async def test_a_ticket_asked_for_before_the_session_ended_opens_nothing(live_server, http, token, runtime, ending):
    ticket = await ticket_for(http, token)
    await end_session(http, token, runtime, ending)
    async with websockets.connect(f"{live_server.ws_url}?ticket={ticket}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1008


async def test_other_sessions_keep_their_sockets_on_logout(live_server, http, token):
    other = (await http.post("/api/login", json={"username": "alice", "password": PASSWORD})).json()["token"]
    async with await connect(live_server, http, other) as kept, await connect(live_server, http, token) as ended:
        assert (await http.post("/api/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 204
        code, _ = await closed_within(ended, 3)
        assert code == 1008
        await asyncio.sleep(0.8)  # longer than a sweep
        await send_prompt(kept, "still here")
        assert (await read_until_end(kept, "still here"))[-1]["type"] == "done"


async def test_a_user_cannot_hold_unbounded_sockets(live_server, http, token, settings):
    limit = settings.max_sockets_per_user
    sockets = [await connect(live_server, http, token) for _ in range(limit)]
    try:
        async with await connect(live_server, http, token) as refused:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(refused.recv(), 3)
        assert closed.value.rcvd.code == 1013
        await send_prompt(sockets[0], "still-fine")  # the ones already open keep working
        assert (await read_until_end(sockets[0], "still-fine"))[-1]["type"] == "done"
    finally:
        for ws in sockets:
            await ws.close()
    async with await connect(live_server, http, token) as again:  # room again once they closed
        await send_prompt(again, "again")
        assert (await read_until_end(again, "again"))[-1]["type"] == "done"
    health = await http.get("/api/health")
    assert health.status_code == 200
