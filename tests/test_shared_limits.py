"""Per-user limits hold across Lambda containers: through the local emulation of the deployed system,
where each function runs in several containers (separate instances, as separate as Lambda's but for
the process), the answer cap, the request budget and the socket cap are counted in the store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from parley.aws.local.deployment import LocalDeployment
from parley.testing.fake_openai import Script
from tests.conftest import PASSWORD

OpenDeployment = Callable[..., AbstractAsyncContextManager[LocalDeployment]]


@asynccontextmanager
async def logged_in(deployment: LocalDeployment) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=deployment.url, timeout=20) as client:
        response = await client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        yield client


async def socket_url(deployment: LocalDeployment, http: httpx.AsyncClient) -> str:
    response = await http.post("/api/ws-ticket")
    assert response.status_code == 200, response.text
    return f"{deployment.ws_url}?ticket={response.json()['ticket']}"


async def send(ws: Any, action: str, **payload: Any) -> None:
    await ws.send(json.dumps({"action": action, "payload": payload}))


async def next_event(ws: Any, msgid: str | None, types: tuple[str, ...]) -> dict[str, Any]:
    """The next event about ``msgid`` of one of ``types``, skipping the rest."""
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if event.get("msgid") == msgid and event["type"] in types:
            return event


async def test_five_answers_at_once_over_several_sockets_start_four(open_deployment, fake):
    fake.script = Script(tokens=["x "] * 1000, token_delay=0.02)  # each answer runs until it is stopped
    async with open_deployment() as deployment, logged_in(deployment) as http:
        sockets = [await websockets.connect(await socket_url(deployment, http)) for _ in range(3)]
        try:
            msgids = {ws: [f"m{i}" for i in range(5) if i % len(sockets) == n] for n, ws in enumerate(sockets)}
            await asyncio.gather(
                *(send(ws, "sendprompt", msgid=msgid, prompt="hi") for ws, own in msgids.items() for msgid in own)
            )
            firsts = await each_socket(msgids, ("start", "error"))
            started = {ws: [m for m in own if firsts[m]["type"] == "start"] for ws, own in msgids.items()}
            refused = [event["code"] for event in firsts.values() if event["type"] == "error"]
            assert sum(len(own) for own in started.values()) == 4
            assert refused == ["too_many_generations"]
            # The refused message wrote nothing: one conversation for each answer that started.
            assert len((await http.get("/api/conversations")).json()["items"]) == 4

            for ws, own in started.items():
                for msgid in own:
                    await send(ws, "stop", msgid=msgid)
            ends = await each_socket(started, ("done", "error"))
            assert {(event["type"], event["finish_reason"]) for event in ends.values()} == {("done", "stopped")}
            fake.script = Script(tokens=["free ", "again"])
            await send(sockets[0], "sendprompt", msgid="after", prompt="hi")  # the stopped answers freed their slots
            assert (await next_event(sockets[0], "after", ("done", "error")))["type"] == "done"
        finally:
            for ws in sockets:
                await ws.close()


async def each_socket(msgids: dict[Any, list[str]], types: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """The first event of one of ``types`` for every msgid, read from the socket each was sent on."""

    async def read(ws: Any, own: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        while len(found) < len(own):
            event = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if event.get("msgid") in own and event["type"] in types:
                found.setdefault(event["msgid"], event)
        return found

    results = await asyncio.gather(*(read(ws, own) for ws, own in msgids.items()))
    return {msgid: event for found in results for msgid, event in found.items()}


async def test_the_request_budget_is_shared_by_every_http_api_container(open_deployment):
    async with open_deployment(requests_per_minute=4) as deployment, logged_in(deployment) as http:  # bursts of 2
        responses = await asyncio.gather(*(http.get("/api/conversations") for _ in range(8)))
        statuses = [response.status_code for response in responses]
        assert sorted(statuses) == [200] * 2 + [429] * 6
        assert deployment.gateway.functions.http_api.cold_starts >= 2  # several containers answered
        refused = responses[statuses.index(429)]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1


async def test_websocket_messages_count_against_the_same_budget(open_deployment):
    async with open_deployment(requests_per_minute=4) as deployment, logged_in(deployment) as http:  # bursts of 2
        async with websockets.connect(await socket_url(deployment, http)) as ws:  # the ticket: 1 request
            await send(ws, "stop", msgid="nothing-running")  # 2: answered, but it counts
            assert (await next_event(ws, "nothing-running", ("error",)))["code"] == "not_found"
            for action in ("sendprompt", "stop", "dance"):  # each route's function refuses alike
                await send(ws, action, msgid="over", prompt="hi")
                refused = await next_event(ws, None, ("error",))
                assert refused["code"] == "rate_limited" and refused["retry_after"] >= 1
        assert (await http.get("/api/conversations")).status_code == 429  # the messages used the HTTP budget


async def test_the_17th_socket_is_refused_at_the_handshake(open_deployment):
    async with open_deployment() as deployment, logged_in(deployment) as http:
        limit = deployment.settings.max_sockets_per_user
        assert limit == 16
        sockets = [await websockets.connect(await socket_url(deployment, http)) for _ in range(limit)]
        try:
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(await socket_url(deployment, http))
            assert refused.value.response.status_code == 429
            for ws in (sockets[0], sockets[-1]):  # the open ones keep working
                await send(ws, "sendprompt", msgid=f"on-{id(ws)}", prompt="hi")
                assert (await next_event(ws, f"on-{id(ws)}", ("done", "error")))["type"] == "done"
            await sockets.pop().close()
            assert await connects_within(deployment, http, 5), "a closed socket frees its place"
        finally:
            for ws in sockets:
                await ws.close()


async def connects_within(deployment: LocalDeployment, http: httpx.AsyncClient, seconds: float) -> bool:
    """$disconnect runs after the close: try until the place it frees is seen."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        try:
            async with websockets.connect(await socket_url(deployment, http)):
                return True
        except InvalidStatus:
            await asyncio.sleep(0.1)
    return False
