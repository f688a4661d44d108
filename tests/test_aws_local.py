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


async def test_search_through_the_functions_needs_nothing_their_roles_do_not_grant(deployment, http, fake, monkeypatch):
    # sendprompt indexes the question and the title, the worker the answer once final, the HTTP API searches (the
    # index, then the titles and, for a word with more postings than are read, the postings it lacks) and renames.
    monkeypatch.setattr("parley.aws.dynamodb.search.MAX_POSTINGS_READ", 1)
    async with await open_socket(deployment, http) as ws:
        for msgid, prompt, answer in (("q1", "kiwis are common", "and rare birds"), ("q2", "common moa", "extinct")):
            fake.enqueue(Script(tokens=[answer]))
            await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": msgid, "prompt": prompt}}))
            assert (await until_end(ws, msgid))[-1]["type"] == "done"

    async def found(q: str) -> list[tuple[str | None, str]]:
        response = await http.get("/api/search", params={"q": q})
        assert response.status_code == 200, response.text
        return sorted((hit["role"] or "", hit["snippet"]) for hit in response.json()["items"])

    assert await found("rare") == [("assistant", "and rare birds")]
    assert await found("extinct") == [("assistant", "extinct")]
    conversation = (await http.get("/api/conversations")).json()["items"][-1]["id"]
    assert (await http.patch(f"/api/conversations/{conversation}", json={"title": "Birds of New Zealand"})).is_success
    assert await found("zealand") == [("", "Birds of New Zealand")]
    assert await found("kiwis common") == [("user", "kiwis are common")]  # "common" has 4 postings, 1 is read


async def test_history_through_the_bucket_needs_nothing_the_roles_do_not_grant(deployment, http):
    """Export through a presigned link, import through a presigned POST and the bucket's event, a duplicate, and
    a deleted conversation imported again; the fixture fails the test on any table call a role would refuse."""
    import io
    import zipfile

    from tests.test_history import archive_of, conversation_doc, message_doc

    archive = archive_of(
        conversation_doc("Moved", [message_doc("a", None), message_doc("b", "a", "assistant", "answer")])
    )

    async def import_once() -> dict:
        made = (await http.post("/api/imports/uploads", json={"file_name": "a.zip", "size": len(archive)})).json()
        target = made["upload"]
        assert target["url"].startswith(deployment.aws_endpoint)  # straight to the bucket, not through a function
        async with httpx.AsyncClient(timeout=20) as storage:
            posted = await storage.post(
                target["url"], data=target["fields"], files={"file": ("a.zip", archive, "application/zip")}
            )
        assert posted.status_code == 204, posted.text
        for _ in range(400):
            job = (await http.get(f"/api/imports/{made['job']['id']}")).json()
            if job["status"] in ("done", "failed"):
                return job
            await asyncio.sleep(0.05)
        raise AssertionError("the import did not end")

    first = await import_once()
    assert (first["status"], first["conversations_imported"]) == ("done", 1), first
    assert (await import_once())["duplicates"] == 1
    conversation = (await http.get("/api/conversations")).json()["items"][0]
    assert (await http.delete(f"/api/conversations/{conversation['id']}")).status_code == 204
    assert (await import_once())["conversations_imported"] == 1

    link = (await http.post("/api/exports")).json()["download_url"]
    assert link.startswith(deployment.aws_endpoint) and "X-Amz-Expires=300" in link
    async with httpx.AsyncClient(timeout=20) as browser:
        downloaded = await browser.get(link)
    assert downloaded.status_code == 200
    with zipfile.ZipFile(io.BytesIO(downloaded.content)) as opened:
        assert json.loads(opened.read("manifest.json"))["conversations"] == 1


async def test_a_file_goes_to_the_bucket_and_is_processed_by_the_worker_with_nothing_the_roles_do_not_grant(
    deployment, http
):
    """The web app's two steps on AWS: the file made through the API, its bytes posted straight to the files bucket
    (a presigned POST), the bucket's event runs the file worker (the real files service), the file is ready and its
    original comes back through a presigned GET; deleting it removes its blobs. The fixture fails the test on any
    table call a role would refuse."""
    import boto3

    text = b"The kakapo is a flightless parrot of New Zealand."
    made = await http.post("/api/files/uploads", json={"name": "birds.txt", "size": len(text)})
    assert made.status_code == 201, made.text
    file, target = made.json()["file"], made.json()["upload"]
    assert file["status"] == "uploading"
    assert target["url"].startswith(deployment.aws_endpoint)  # straight to the bucket, not through a function
    assert target["fields"]["key"].endswith(f"/{file['id']}/original") and target["max_bytes"] == len(text)
    # The local route for the bytes is not served where they go to the bucket.
    assert (await http.post(f"/api/files/{file['id']}/content", files={"file": ("b.txt", text)})).status_code == 404
    async with httpx.AsyncClient(timeout=20) as storage:
        posted = await storage.post(target["url"], data=target["fields"], files={"file": ("birds.txt", text)})
    assert posted.status_code == 204, posted.text
    for _ in range(1200):
        file = (await http.get(f"/api/files/{file['id']}")).json()
        if file["status"] in ("ready", "error"):
            break
        await asyncio.sleep(0.05)
    assert (file["status"], file["kind"], file["text_chars"]) == ("ready", "document", len(text)), file

    s3 = boto3.client("s3", endpoint_url=deployment.aws_endpoint)
    listed = s3.list_objects_v2(Bucket=deployment.files_bucket)["Contents"]
    assert sorted(item["Key"].rsplit("/", 1)[-1] for item in listed) == ["original", "text.json"]
    link = await http.get(f"/api/files/{file['id']}/content")
    assert link.status_code == 302 and "X-Amz-Expires=300" in link.headers["location"]
    async with httpx.AsyncClient(timeout=20) as browser:
        original = await browser.get(link.headers["location"])
    assert original.content == text and original.headers["content-disposition"].startswith("attachment")

    assert (await http.delete(f"/api/files/{file['id']}")).status_code == 204
    assert s3.list_objects_v2(Bucket=deployment.files_bucket).get("Contents", []) == []
