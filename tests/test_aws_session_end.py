"""On the serverless path, open WebSockets close when their session ends, through the local emulation:
the table's stream, filtered, feeds the session-end function, which closes them with DeleteConnection.

A logout closes only that session's sockets; a new password, a disabled or a removed account closes all
the user's, even when the change comes from the CLI and never passes through the API.
"""

from __future__ import annotations

import asyncio
import io
import json
import time

import boto3
import httpx
import jwt
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parley.aws.functions.sessions import SessionEnd, session_end, stream_filter
from parley.aws.local.filters import UnsupportedFilter, passes
from parley.cli.main import main as parley_cli
from parley.core.store.registry import open_stores
from tests.conftest import PASSWORD

# What a client sees when API Gateway closes its socket on DeleteConnection (the local server says 1008).
CLOSED_BY_API_GATEWAY = 1001
ENDS_WITHIN_SECONDS = 1.0


@pytest.fixture
async def deployment(open_deployment):
    async with open_deployment() as running:
        yield running


async def cli(monkeypatch, *args: str, stdin: str = "") -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin + "\n"))
    assert await asyncio.to_thread(parley_cli, list(args)) == 0


@pytest.fixture
async def http(deployment):
    async with httpx.AsyncClient(base_url=deployment.url, timeout=20) as client:
        yield client


async def login(http) -> dict[str, str]:
    response = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def ticket(http, session: dict[str, str]) -> str:
    response = await http.post("/api/ws-ticket", headers=session)
    assert response.status_code == 200, response.text
    return str(response.json()["ticket"])


async def open_socket(deployment, http, session: dict[str, str]):
    return await websockets.connect(f"{deployment.ws_url}?ticket={await ticket(http, session)}")


async def closed_within(ws, seconds: float) -> tuple[int, float]:
    """The close code the client got, and how long after the call it came."""
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), seconds)
    assert closed.value.rcvd is not None, "the client saw no close frame"
    return closed.value.rcvd.code, time.monotonic() - started


async def still_served(ws) -> None:
    """The socket is open and its messages reach the functions: a stop for nothing gets its error back."""
    await ws.send(json.dumps({"action": "stop", "payload": {"msgid": "nothing-running"}}))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert (answer["type"], answer["code"]) == ("error", "not_found")


async def user_connections(deployment) -> list[str]:
    async with open_stores("dynamodb", deployment.settings) as stores:
        user = await stores.users.get_user_by_name("alice")
        return [] if user is None else await stores.connections.user_connections(user.id)


async def test_logout_closes_that_sessions_sockets_and_no_other(deployment, http):
    ending, staying = await login(http), await login(http)
    ended = [await open_socket(deployment, http, ending) for _ in range(2)]
    kept = await open_socket(deployment, http, staying)
    unused_ticket = await ticket(http, ending)
    try:
        assert (await http.post("/api/logout", headers=ending)).status_code == 204
        for code, elapsed in await asyncio.gather(*(closed_within(ws, 3) for ws in ended)):
            assert code == CLOSED_BY_API_GATEWAY
            assert elapsed < ENDS_WITHIN_SECONDS
        await asyncio.sleep(0.5)  # more than a poll of the stream: nothing else is coming
        await still_served(kept)
        assert len(await user_connections(deployment)) == 1
        # A ticket asked for before the logout opens nothing after it.
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(f"{deployment.ws_url}?ticket={unused_ticket}")
        assert refused.value.response.status_code == 403
    finally:
        await kept.close()
        for ws in ended:
            await ws.close()


@pytest.mark.parametrize(
    "command",
    [["users", "passwd", "alice", "--password-stdin"], ["users", "disable", "alice"], ["users", "remove", "alice"]],
    ids=["new password", "disabled", "removed"],
)
async def test_a_user_changed_from_the_cli_loses_every_socket_within_a_second(deployment, http, monkeypatch, command):
    sessions = [await login(http), await login(http)]
    sockets = [await open_socket(deployment, http, session) for session in sessions]
    connection_ids = set(deployment.gateway.connections)
    assert len(connection_ids) == 2
    unused_ticket = await ticket(http, sessions[0])
    try:
        await cli(monkeypatch, *command, stdin="a brand new password")
        for code, elapsed in await asyncio.gather(*(closed_within(ws, 3) for ws in sockets)):
            assert code == CLOSED_BY_API_GATEWAY
            assert elapsed < ENDS_WITHIN_SECONDS
        # Nothing of the old connections can be used again: no record, nothing to post to, no new socket.
        assert await user_connections(deployment) == []
        for connection_id in connection_ids:
            response = await http.post(f"/@connections/{connection_id}", content=b"{}")
            assert response.status_code == 410
        with pytest.raises(InvalidStatus):
            await websockets.connect(f"{deployment.ws_url}?ticket={unused_ticket}")
        for session in sessions:
            assert (await http.post("/api/ws-ticket", headers=session)).status_code == 401
    finally:
        for ws in sockets:
            await ws.close()


async def test_the_filter_passes_exactly_the_records_that_end_sessions(deployment, http, monkeypatch):
    """Real records from the table's stream, as a whole session's life writes them."""
    streams = boto3.client("dynamodbstreams", endpoint_url=deployment.aws_endpoint)
    dynamodb = boto3.client("dynamodb", endpoint_url=deployment.aws_endpoint)
    stream_arn = dynamodb.describe_table(TableName=deployment.table)["Table"]["LatestStreamArn"]
    session = await login(http)
    claims = jwt.decode(session["Authorization"].removeprefix("Bearer "), options={"verify_signature": False})
    async with await open_socket(deployment, http, session) as ws:
        await still_served(ws)
    assert (await http.put("/api/preferences", headers=session, json={"theme": "dark"})).status_code == 200
    assert (await http.post("/api/logout", headers=session)).status_code == 204
    await cli(monkeypatch, "users", "passwd", "alice", "--password-stdin", stdin="a brand new password")

    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert len(records) > 8  # the user and its name, tickets, a connection, preferences, a revocation...
    passed = [record for record in records if passes(stream_filter(), record)]
    ends = [session_end(record) for record in passed]
    assert [end for end in ends if end is not None] == [
        SessionEnd(claims["sub"], claims["jti"]),  # the logout
        SessionEnd(claims["sub"], None),  # the new password
    ]
    # Let through but ending nothing: only a user's change that keeps the token version (the login's rehash).
    assert {record["eventName"] for record, end in zip(passed, ends, strict=True) if end is None} <= {"MODIFY"}
    # And the filter holds back nothing that would end a session.
    assert all(session_end(record) is None for record in records if record not in passed)


def test_the_filter_emulation_refuses_rules_it_does_not_implement():
    assert passes([{"eventName": ["INSERT"]}], {"eventName": "INSERT"})
    assert not passes([{"eventName": ["INSERT"]}], {"eventName": "MODIFY"})
    assert not passes([{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "JTI#"}]}}}}], {"dynamodb": {}})
    with pytest.raises(UnsupportedFilter):
        passes([{"eventName": [{"anything-but": ["REMOVE"]}]}], {"eventName": "INSERT"})
    with pytest.raises(UnsupportedFilter):
        passes([{"eventName": "INSERT"}], {"eventName": "INSERT"})
