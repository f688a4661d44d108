"""The history routes on the local server: exports (one conversation, everything, one-time links) and import jobs
(upload, poll, list), each scoped to its owner."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import httpx
import pytest

from tests.test_history import archive_of, conversation_doc, documents, make_history, message_doc


async def poll(client, account, job_id, *, until=("done", "failed"), seconds=20.0):
    for _ in range(int(seconds / 0.05)):
        response = await client.get(f"/api/imports/{job_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        if response.json()["status"] in until:
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {job_id} did not end")


async def seed(runtime, account):
    user = await runtime.stores.users.get_user_by_name(account.username)
    await make_history(runtime.stores, user.id)
    page = await runtime.stores.conversations.list_conversations(user.id, 10, None)
    return {c.title: c.id for c in page.items}


async def test_one_conversation_exports_as_json_or_markdown_to_its_owner_only(client, runtime, alice, bob):
    ids = await seed(runtime, alice)
    tree = ids['Trees & <branches> / "quoted"']
    response = await client.get(f"/api/conversations/{tree}/export", headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith('attachment; filename="Trees  branches  quoted.json"')
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert (document["format"], document["id"], len(document["messages"])) == ("parley-conversation", tree, 6)

    markdown = await client.get(f"/api/conversations/{tree}/export?format=markdown", headers=alice.headers)
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith('# Trees & <branches> / "quoted"')

    for path in (f"/api/conversations/{tree}/export", f"/api/conversations/{tree}/export?format=markdown"):
        assert (await client.get(path, headers=bob.headers)).status_code == 404
    assert (await client.get("/api/conversations/nope/export", headers=alice.headers)).status_code == 404
    assert (await client.get(f"/api/conversations/{tree}/export?format=pdf", headers=alice.headers)).status_code == 422
    assert (await client.get(f"/api/conversations/{tree}/export")).status_code == 401


async def test_everything_exports_as_a_zip_directly_or_through_a_one_time_link(client, runtime, alice, bob):
    await seed(runtime, alice)
    direct = await client.get("/api/export", headers=alice.headers)
    assert direct.status_code == 200 and direct.headers["content-type"] == "application/zip"
    manifest, conversations = documents(direct.content)
    assert manifest["conversations"] == 2 and len(conversations) == 2

    link = await client.post("/api/exports", headers=alice.headers)
    assert link.status_code == 200
    url = link.json()["download_url"]
    assert url.startswith("/api/exports/") and len(url) > 50
    downloaded = await client.get(url)  # the link itself authorizes, once: the browser just follows it
    assert downloaded.status_code == 200
    assert documents(downloaded.content)[0]["conversations"] == 2
    again = await client.get(url)
    assert again.status_code == 404 and "expired or was used" in again.json()["error"]["message"]

    bobs = (await client.post("/api/exports", headers=bob.headers)).json()["download_url"]
    assert documents((await client.get(bobs)).content)[0]["conversations"] == 0
    assert (await client.get("/api/exports/" + "x" * 43)).status_code == 404
    assert (await client.post("/api/exports")).status_code == 401


async def test_a_download_link_expires_within_minutes(settings, runtime, alice):
    from parley.runtime import build_import_runner
    from parley.server.app import create_app
    from parley.server.history_transfer import DOWNLOAD_TTL_SECONDS, LocalTransfer

    now = [1000.0]
    transfer = LocalTransfer(build_import_runner(runtime.stores), max_import_bytes=1, clock=lambda: now[0])
    app = create_app(settings, runtime, history_transfer=transfer)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        late = (await http.post("/api/exports", headers=alice.headers)).json()["download_url"]
        in_time = (await http.post("/api/exports", headers=alice.headers)).json()["download_url"]
        now[0] += DOWNLOAD_TTL_SECONDS - 1
        assert (await http.get(in_time)).status_code == 200
        now[0] += 2
        assert (await http.get(late)).status_code == 404
    assert DOWNLOAD_TTL_SECONDS <= 600


def upload(content: bytes, name: str = "archive.zip") -> dict:
    return {"file": (name, io.BytesIO(content), "application/octet-stream")}


async def test_an_uploaded_archive_is_imported_by_a_job_to_poll(client, runtime, settings, alice, bob):
    await seed(runtime, alice)
    archive = (await client.get("/api/export", headers=alice.headers)).content
    response = await client.post("/api/imports", files=upload(archive), headers=bob.headers)
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["file_name"], job["progress"]["bytes_total"]) == ("queued", "archive.zip", len(archive))
    done = await poll(client, bob, job["id"])
    assert done["status"] == "done", done
    assert (done["conversations_imported"], done["duplicates"], done["skipped"], done["error"]) == (2, 0, [], None)
    assert done["progress"] == {"bytes_read": len(archive), "bytes_total": len(archive)}
    assert len((await client.get("/api/conversations", headers=bob.headers)).json()["items"]) == 2
    assert list(settings.imports_dir.iterdir()) == []  # the spooled file is gone with its job

    twice = (await client.post("/api/imports", files=upload(archive), headers=bob.headers)).json()
    assert (await poll(client, bob, twice["id"]))["duplicates"] == 2

    listed = (await client.get("/api/imports", headers=bob.headers)).json()["items"]
    assert [j["id"] for j in listed] == [twice["id"], job["id"]]
    assert (await client.get(f"/api/imports/{job['id']}", headers=alice.headers)).status_code == 404
    assert (await client.get("/api/imports", headers=alice.headers)).json()["items"] == []


async def test_a_bad_file_makes_a_failed_job_and_malformed_conversations_are_listed(client, alice):
    png = await client.post(
        "/api/imports", files=upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "conversations.json"), headers=alice.headers
    )
    failed = await poll(client, alice, png.json()["id"])
    assert failed["status"] == "failed" and "not a file Parley can import" in failed["error"]

    mixed = archive_of(
        conversation_doc("Fine", [message_doc("a", None)]),
        conversation_doc("Odd role", [message_doc("a", None, "wizard")]),
    )
    job = (await client.post("/api/imports", files=upload(mixed), headers=alice.headers)).json()
    done = await poll(client, alice, job["id"])
    assert done["conversations_imported"] == 1
    assert done["skipped"] == [
        {"name": "Odd role", "reason": "message 1 has the role 'wizard', which Parley does not know"}
    ]


async def test_the_web_apps_two_step_upload(client, alice, bob):
    single = json.dumps(conversation_doc("One", [message_doc("a", None)])).encode()
    made = await client.post(
        "/api/imports/uploads", json={"file_name": "one.json", "size": len(single)}, headers=alice.headers
    )
    assert made.status_code == 201, made.text
    job, target = made.json()["job"], made.json()["upload"]
    assert job["status"] == "queued" and target["url"] == f"/api/imports/{job['id']}/file" and target["fields"] == {}
    assert (await client.post(target["url"], files=upload(single, "one.json"), headers=bob.headers)).status_code == 404
    sent = await client.post(target["url"], files=upload(single, "one.json"), headers=alice.headers)
    assert sent.status_code == 202
    assert (await poll(client, alice, job["id"]))["conversations_imported"] == 1
    again = await client.post(target["url"], files=upload(single, "one.json"), headers=alice.headers)
    assert again.status_code == 409

    too_big = await client.post(
        "/api/imports/uploads", json={"file_name": "big.zip", "size": 10 * 1024**3}, headers=alice.headers
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"just bytes", "application/octet-stream"),
        (
            b'--b\r\nContent-Disposition: form-data; name="other"\r\n\r\nx\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
    ],
)
async def test_an_upload_without_a_file_field_is_refused(client, alice, settings, body, content_type):
    response = await client.post("/api/imports", content=body, headers={**alice.headers, "content-type": content_type})
    assert response.status_code == 400
    assert not settings.imports_dir.exists() or list(settings.imports_dir.iterdir()) == []


async def test_an_upload_past_the_cap_is_refused_and_leaves_nothing(client, alice, runtime, settings, monkeypatch):
    object.__setattr__(runtime.settings, "max_import_bytes", 1000)
    response = await client.post("/api/imports", files=upload(b"x" * 5000), headers=alice.headers)
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert list(settings.imports_dir.iterdir()) == []
    assert (await client.get("/api/imports", headers=alice.headers)).json()["items"] == []


def test_zip_members_are_named_by_conversation_id():
    archive = archive_of(conversation_doc("A", []))
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert "conversations/c0.json" in opened.namelist()
