"""The serverless code path end to end, through the local emulation of API Gateway, SNS and @connections:
the same chat scenario as the local server (login, stream, stop, history), over real HTTP and WebSockets."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from parley.testing.fake_openai import Script
from tests.conftest import PASSWORD


@pytest.fixture
async def deployment(open_deployment):
    async with open_deployment() as running:
        yield running


@pytest.fixture
async def http(deployment):
    async with httpx.AsyncClient(base_url=deployment.url, timeout=20) as client:
        response = await client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        yield client


async def open_socket(deployment, http):
    ticket = (await http.post("/api/ws-ticket")).json()["ticket"]
    return await websockets.connect(f"{deployment.ws_url}?ticket={ticket}")


async def until_end(ws, msgid):
    events = []
    while not events or events[-1]["type"] not in ("done", "error"):
        event = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if event.get("msgid") == msgid:
            events.append(event)
    return events


async def test_login_stream_and_history(deployment, http, fake):
    fake.enqueue(Script(tokens=[f"part{i} " for i in range(30)], token_delay=0.005))
    async with await open_socket(deployment, http) as ws:
        await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "a1", "prompt": "Hello AWS"}}))
        events = await until_end(ws, "a1")
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    assert text == "".join(f"part{i} " for i in range(30))
    listing = (await http.get("/api/conversations")).json()["items"]
    assert [c["id"] for c in listing] == [events[0]["conversation_id"]]
    detail = (await http.get(f"/api/conversations/{listing[0]['id']}")).json()
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [("user", "Hello AWS"), ("assistant", text)]


async def test_stop_mid_answer(deployment, http, fake):
    fake.enqueue(Script(tokens=["x"] * 500, token_delay=0.01))
    async with await open_socket(deployment, http) as ws:
        await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "s1", "prompt": "long"}}))
        events = []
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), 20))
            events.append(event)
            if event["type"] == "delta" and len([e for e in events if e["type"] == "delta"]) == 2:
                await ws.send(json.dumps({"action": "stop", "payload": {"msgid": "s1"}}))
            if event["type"] in ("done", "error"):
                break
    assert events[-1]["type"] == "done" and events[-1]["finish_reason"] == "stopped"
    detail = (await http.get(f"/api/conversations/{events[0]['conversation_id']}")).json()
    assert detail["messages"][-1]["status"] == "stopped"
    assert 0 < len(detail["messages"][-1]["content"]) < 500


async def test_a_client_that_leaves_still_gets_its_answer_saved(deployment, http, fake):
    fake.enqueue(Script(tokens=[f"{i}," for i in range(40)], token_delay=0.01))
    ws = await open_socket(deployment, http)
    await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "g1", "prompt": "hi"}}))
    start = json.loads(await asyncio.wait_for(ws.recv(), 20))
    await ws.close()
    await deployment.gateway.drain()
    detail = (await http.get(f"/api/conversations/{start['conversation_id']}")).json()
    assert detail["messages"][-1]["content"] == "".join(f"{i}," for i in range(40))
    assert detail["messages"][-1]["status"] == "complete"


async def test_an_edit_a_long_answer_and_a_deletion_need_nothing_their_roles_do_not_grant(deployment, http, fake):
    # The paths the scenarios above leave out, each granted on its own in parley/aws/functions/table_access.py: the
    # worker saves an answer past 100 KB in parts, sendprompt removes what followed an edited message, and the HTTP
    # API deletes a conversation's messages. (The fixture fails the test on any call a role would refuse.)
    long_answer = ["a" * 60_000, "b" * 60_000]
    fake.enqueue(Script(tokens=long_answer))
    async with await open_socket(deployment, http) as ws:
        await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "e1", "prompt": "first"}}))
        conversation = (await until_end(ws, "e1"))[0]["conversation_id"]
        detail = (await http.get(f"/api/conversations/{conversation}")).json()
        assert detail["messages"][-1]["content"] == "".join(long_answer)
        fake.enqueue(Script(tokens=["edited"]))
        edit = {"msgid": "e2", "prompt": "second", "conversation_id": conversation}
        edit["edit_message_id"] = detail["messages"][0]["id"]
        await ws.send(json.dumps({"action": "sendprompt", "payload": edit}))
        assert (await until_end(ws, "e2"))[-1]["type"] == "done"
    detail = (await http.get(f"/api/conversations/{conversation}")).json()
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [("user", "second"), ("assistant", "edited")]
    assert (await http.delete(f"/api/conversations/{conversation}")).status_code == 204
    assert (await http.get(f"/api/conversations/{conversation}")).status_code == 404


async def test_the_gateway_refuses_what_api_gateway_refuses(deployment, http):
    async with httpx.AsyncClient(base_url=deployment.url) as anonymous:
        assert (await anonymous.get("/api/conversations")).status_code == 401
        assert (await anonymous.get("/api/health")).status_code == 200
    ticket = (await http.post("/api/ws-ticket")).json()["ticket"]
    async with websockets.connect(f"{deployment.ws_url}?ticket={ticket}"):
        pass
    with pytest.raises(InvalidStatus):  # the ticket was used
        await websockets.connect(f"{deployment.ws_url}?ticket={ticket}")
    async with await open_socket(deployment, http) as ws:
        await ws.send(json.dumps({"action": "dance"}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert error["type"] == "error" and error["code"] == "invalid_input"


async def test_a_closed_emulation_leaves_nothing_behind_in_the_process(open_deployment):
    # moto's state lives as long as the process: a closed emulation drops its table and moto's record of every
    # item it made, or a process that opens many (this test suite) carries them all into every GC pause.
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import Item

    async with open_deployment() as deployment:  # alice, added by the CLI, is in its table
        table = deployment.table
        assert Item.instances_tracked
    regions = [backend for account in dynamodb_backends.values() for backend in account.values()]
    assert all(table not in backend.tables for backend in regions)
    assert Item.instances_tracked == []


async def test_the_emulation_names_the_app_as_the_operator_set_it(open_deployment):
    async with open_deployment(app_name="Team Chat") as deployment, httpx.AsyncClient(base_url=deployment.url) as http:
        assert (await http.get("/config.json")).json()["app_name"] == "Team Chat"
