"""The attached files' routes on the local server: the two-step upload the web app uses and the one-step one, the
limits, polling to ready, download, delete; every one scoped to its owner."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from parley.config import Settings
from parley.core.providers.registry import ModelRegistry
from parley.runtime import build_files, open_runtime
from parley.testing import sample_files
from tests.test_files_service import RecordingImages

MISSING = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_file_bytes=1024 * 1024, max_user_file_bytes=3 * 1024 * 1024 // 2)


@pytest.fixture
async def runtime(settings, provider):
    registry = ModelRegistry()
    registry.add_provider(provider, await provider.list_models())
    async with open_runtime(settings, models=registry) as opened:
        yield dataclasses.replace(opened, files=build_files(settings, opened.stores, images=RecordingImages()))


async def ready(client, account, file_id, *, seconds=60.0) -> dict:
    for _ in range(int(seconds / 0.05)):
        response = await client.get(f"/api/files/{file_id}", headers=account.headers)
        assert response.status_code == 200, response.text
        if response.json()["status"] in ("ready", "error"):
            return response.json()
        await asyncio.sleep(0.05)
    raise AssertionError(f"file {file_id} was not processed")


async def upload(client, account, content: bytes, name: str) -> dict:
    response = await client.post("/api/files", headers=account.headers, files={"file": (name, content)})
    assert response.status_code == 201, response.text
    return await ready(client, account, response.json()["id"])


async def test_the_two_step_upload_makes_a_file_that_becomes_ready(client, alice):
    pdf = sample_files.pdf("Minutes of the meeting.", "Decisions taken.")
    made = await client.post(
        "/api/files/uploads", headers=alice.headers, json={"name": "minutes.pdf", "size": len(pdf)}
    )
    assert made.status_code == 201, made.text
    body = made.json()
    file_id = body["file"]["id"]
    assert body["file"] == {
        "id": file_id, "name": "minutes.pdf", "size": len(pdf), "status": "uploading", "media_type": "",
        "kind": None, "error": None, "text_chars": 0, "passages": 0, "width": None, "height": None,
        "text_truncated": False, "created_at": body["file"]["created_at"],
    }  # fmt: skip
    assert body["upload"] == {"url": f"/api/files/{file_id}/content", "fields": {}, "max_bytes": 1024 * 1024}

    sent = await client.post(body["upload"]["url"], headers=alice.headers, files={"file": ("minutes.pdf", pdf)})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "processing"
    again = await client.post(body["upload"]["url"], headers=alice.headers, files={"file": ("x", b"other")})
    assert again.status_code == 409

    done = await ready(client, alice, file_id)
    assert (done["status"], done["kind"], done["media_type"], done["error"]) == (
        "ready",
        "document",
        "application/pdf",
        None,
    )
    assert done["text_chars"] == len("Minutes of the meeting.\n\nDecisions taken.")

    listed = await client.get("/api/files", headers=alice.headers)
    assert [f["id"] for f in listed.json()["items"]] == [file_id]

    download = await client.get(f"/api/files/{file_id}/content", headers=alice.headers)
    assert download.status_code == 200 and download.content == pdf
    assert download.headers["content-type"] == "application/pdf"
    assert (
        download.headers["content-disposition"] == "attachment; filename=\"minutes.pdf\"; filename*=UTF-8''minutes.pdf"
    )
    assert download.headers["x-content-type-options"] == "nosniff"

    assert (await client.delete(f"/api/files/{file_id}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"/api/files/{file_id}", headers=alice.headers)).status_code == 404
    assert (await client.get(f"/api/files/{file_id}/content", headers=alice.headers)).status_code == 404
    assert (await client.delete(f"/api/files/{file_id}", headers=alice.headers)).status_code == 404
    assert (await client.get("/api/files", headers=alice.headers)).json() == {"items": []}


async def test_the_one_step_upload_sniffs_the_type_from_the_content(client, alice):
    image = await upload(client, alice, sample_files.png(), "scan.pdf")
    assert (image["status"], image["kind"], image["media_type"], image["width"]) == ("ready", "image", "image/png", 2)
    shown = await client.get(f"/api/files/{image['id']}/content", headers=alice.headers)
    assert shown.status_code == 200 and shown.content.startswith(b"re-encoded ")
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["content-disposition"].startswith('inline; filename="scan.pdf"')
    assert shown.headers["cache-control"].startswith("private")
    assert shown.headers["x-content-type-options"] == "nosniff"

    sheet = await upload(client, alice, sample_files.xlsx([["a", "b"], [1, 2]]), "numbers.txt")
    assert sheet["media_type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    failed = await upload(client, alice, bytes(range(256)) * 4, "data.csv")
    assert failed["status"] == "error" and "not supported" in failed["error"]
    assert [f["id"] for f in (await client.get("/api/files", headers=alice.headers)).json()["items"]] == [
        failed["id"], sheet["id"], image["id"],
    ]  # fmt: skip


async def test_uploaded_html_is_downloaded_never_rendered(client, alice):
    page = b"<html><body><script>fetch('/api/conversations')</script><p>Hello</p></body></html>"
    file = await upload(client, alice, page, "page.html")
    assert file["media_type"] == "text/html" and file["text_chars"] == len("Hello")
    response = await client.get(f"/api/files/{file['id']}/content", headers=alice.headers)
    assert response.content == page
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("sandbox")


async def test_limits_are_told_plainly(client, alice):
    over = await client.post("/api/files/uploads", headers=alice.headers, json={"name": "big", "size": 1024 * 1024 + 1})
    assert over.status_code == 413 and "larger than this server accepts (1 MB)" in over.json()["error"]["message"]
    first = await client.post("/api/files/uploads", headers=alice.headers, json={"name": "a", "size": 1024 * 1024})
    assert first.status_code == 201
    quota = await client.post("/api/files/uploads", headers=alice.headers, json={"name": "b", "size": 1024 * 1024})
    assert quota.status_code == 413 and "past the 1.5 MB" in quota.json()["error"]["message"]

    small = await client.post("/api/files/uploads", headers=alice.headers, json={"name": "c", "size": 10})
    url = small.json()["upload"]["url"]
    too_big = await client.post(url, headers=alice.headers, files={"file": ("c", b"x" * (1024 * 1024 + 1))})
    assert too_big.status_code == 413
    one_step = await client.post("/api/files", headers=alice.headers, files={"file": ("d", b"x" * (1024 * 1024 + 1))})
    assert one_step.status_code == 413

    for bad in ({"name": "", "size": 1}, {"name": "x", "size": -1}, {"name": "x"}, {"name": "x", "size": 1, "y": 2}):
        assert (await client.post("/api/files/uploads", headers=alice.headers, json=bad)).status_code == 422
    not_multipart = await client.post("/api/files", headers=alice.headers, content=b"raw bytes")
    assert not_multipart.status_code == 400

    # Alice's space is full (1 MB + 10 bytes declared of 1.5 MB): a one-step upload past it is refused, however small.
    await client.post("/api/files/uploads", headers=alice.headers, json={"name": "e", "size": 512 * 1024 - 10})
    full = await client.post("/api/files", headers=alice.headers, files={"file": ("f", b"x")})
    assert full.status_code == 413 and "Delete some files first" in full.json()["error"]["message"]


async def test_another_users_file_is_not_found_anywhere(client, alice, bob):
    file = await upload(client, alice, b"alice's private notes", "notes.txt")
    for method, path in (
        ("GET", f"/api/files/{file['id']}"),
        ("GET", f"/api/files/{file['id']}/content"),
        ("DELETE", f"/api/files/{file['id']}"),
        ("GET", f"/api/files/{MISSING}"),
    ):
        assert (await client.request(method, path, headers=bob.headers)).status_code == 404, (method, path)
    waiting = (await client.post("/api/files/uploads", headers=alice.headers, json={"name": "w", "size": 3})).json()
    stolen = await client.post(waiting["upload"]["url"], headers=bob.headers, files={"file": ("w", b"bob")})
    assert stolen.status_code == 404
    assert (await client.get("/api/files", headers=bob.headers)).json() == {"items": []}
    assert (await client.get(f"/api/files/{file['id']}", headers=alice.headers)).json()["status"] == "ready"
    assert (await client.get("/api/files/not-an-id", headers=alice.headers)).status_code == 422
    for method, path in (("GET", "/api/files"), ("POST", "/api/files"), ("GET", f"/api/files/{file['id']}")):
        assert (await client.request(method, path)).status_code == 401


async def test_removing_a_user_removes_their_files_and_bytes(client, runtime, settings, alice, bob):
    mine = await upload(client, alice, b"to be removed", "a.txt")
    kept = await upload(client, bob, b"to be kept", "b.txt")
    user = await runtime.stores.users.get_user_by_name("alice")
    assert (settings.files_dir / user.id / mine["id"]).is_dir()
    await runtime.auth.remove_user("alice")
    assert not (settings.files_dir / user.id).exists()
    assert await runtime.stores.files.list_files(user.id) == []
    assert (await client.get(f"/api/files/{kept['id']}", headers=bob.headers)).json()["status"] == "ready"
