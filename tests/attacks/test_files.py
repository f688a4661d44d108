"""Hostile files and stolen ids on the attached files' routes (issue 12), on both paths: a file past the cap is
refused as its bytes arrive, a user cannot pass their space, a file's type is what its bytes say (a PNG named .pdf
is an image), a zip bomb inside a Word document, a PDF bomb and an encrypted PDF end as files in error with a plain
reason while the server goes on answering, another user's file is not found, a name cannot reach a path, and
uploaded HTML is never served as a page."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from parley.testing import sample_files
from tests.attacks.targets import Player, Target
from tests.attacks.test_history import send_two_gigabytes

CAP = 1024 * 1024
MISSING = "0123456789abcdef0123456789abcdef"


async def upload(
    player: Player, content: bytes, name: str, *, declared: int | None = None
) -> tuple[dict, httpx.Response]:
    """The web app's two steps: a file and where its bytes go, then the bytes, there."""
    size = len(content) if declared is None else declared
    made = await player.http.post("/api/files/uploads", json={"name": name, "size": size})
    assert made.status_code == 201, made.text
    body = made.json()
    target = body["upload"]
    files = {"file": (name, content, "application/octet-stream")}
    if target["url"].startswith("/"):
        return body["file"], await player.http.post(target["url"], files=files)
    async with httpx.AsyncClient(timeout=20) as storage:  # a presigned POST: no session goes to the bucket
        return body["file"], await storage.post(target["url"], data=target["fields"], files=files)


async def settled(player: Player, file_id: str) -> dict:
    # Up to two minutes: extraction runs in a process of its own, on a busy 2-core machine.
    for _ in range(1200):
        file = (await player.http.get(f"/api/files/{file_id}")).json()
        if file["status"] in ("ready", "error"):
            return file
        await asyncio.sleep(0.1)
    raise AssertionError(f"file {file_id} was never processed")


async def processed(player: Player, content: bytes, name: str) -> dict:
    file, sent = await upload(player, content, name)
    assert sent.status_code in (200, 204), sent.text
    return await settled(player, file["id"])


@pytest.mark.target_settings(max_file_bytes=CAP)
async def test_a_file_past_the_cap_is_refused_as_its_bytes_arrive(target: Target, ledger) -> None:
    alice = await target.player()
    asked = await alice.http.post("/api/files/uploads", json={"name": "huge.pdf", "size": 2 * 1024**3})
    assert asked.status_code == 413 and asked.json()["error"]["code"] == "too_large"
    for path in ("/api/files", f"/api/files/{MISSING}/content"):
        for declare in (True, False):
            status, sent = await send_two_gigabytes(alice, declare_length=declare, path=path)
            assert status in (413, 404, None), (path, status)
            assert sent <= 64 * 1024 * 1024, f"{sent:,} bytes were taken before the refusal ({path}, {declare=})"
            ledger.attempt(target.path, "oversized file uploads")
    # Declared small, sent big: refused where it is sent (this server, or the bucket's policy), never ready.
    file, refused = await upload(alice, b"\0" * (CAP + 1), "big.txt", declared=100)
    if refused.status_code in (200, 204):
        assert (await settled(alice, file["id"]))["status"] == "error"
    else:
        assert refused.status_code in (400, 413), refused.text
        assert (await alice.http.get(f"/api/files/{file['id']}")).json()["status"] != "ready"


@pytest.mark.target_settings(max_file_bytes=CAP, max_user_file_bytes=2 * CAP)
async def test_a_user_cannot_pass_their_space(target: Target, ledger) -> None:
    alice, bob = await target.player(), await target.player()
    for name in ("one", "two"):
        made = await alice.http.post("/api/files/uploads", json={"name": name, "size": CAP})
        assert made.status_code == 201, made.text
    over = await alice.http.post("/api/files/uploads", json={"name": "three", "size": 1})
    assert over.status_code == 413 and "Delete some files first" in over.json()["error"]["message"]
    ledger.attempt(target.path, "file space")
    assert (await bob.http.post("/api/files/uploads", json={"name": "his", "size": CAP})).status_code == 201


async def test_a_files_type_is_what_its_bytes_say_not_its_name(target: Target) -> None:
    alice = await target.player()
    image = await processed(alice, sample_files.png(), "invoice.pdf")
    assert (image["status"], image["kind"], image["media_type"], image["width"]) == ("ready", "image", "image/png", 2)
    shown = await alice.http.get(f"/api/files/{image['id']}/content")
    assert shown.status_code == 200 and shown.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert shown.headers["content-type"] == "image/png" and shown.headers["x-content-type-options"] == "nosniff"
    assert shown.headers["content-disposition"].startswith("inline")
    text = await processed(alice, b"Just words, in a file that says it is a PDF.", "paper.pdf")
    assert (text["status"], text["kind"], text["media_type"]) == ("ready", "document", "text/plain")


async def test_bombs_and_locked_files_end_in_error_while_the_server_answers(target: Target, ledger) -> None:
    alice = await target.player()
    cases = {
        "bomb.docx": (sample_files.docx_with_bomb(), "too large to read"),
        "bomb.pdf": (sample_files.pdf_bomb(), "No text was found"),
        "locked.pdf": (sample_files.pdf("Secret plans.", password="hunter2"), "password-protected"),
        "program.exe": (b"MZ\x90\x00" + bytes(range(256)) * 64, "not supported"),
    }
    for name, (content, reason) in cases.items():
        started = time.monotonic()
        file = await processed(alice, content, name)
        assert file["status"] == "error" and reason in file["error"], file
        assert time.monotonic() - started < 90
        assert (await alice.http.get("/api/health")).status_code == 200
        ledger.attempt(target.path, "hostile files")
    fine = await processed(alice, sample_files.docx("Still working."), "fine.docx")
    assert (fine["status"], fine["text_chars"]) == ("ready", len("Still working."))


async def test_another_users_file_is_not_found(target: Target) -> None:
    alice, bob = await target.player(), await target.player()
    file = await processed(alice, b"alice's notes", "notes.txt")
    for method, path in (
        ("GET", f"/api/files/{file['id']}"),
        ("GET", f"/api/files/{file['id']}/content"),
        ("DELETE", f"/api/files/{file['id']}"),
    ):
        stolen = await bob.http.request(method, path)
        made_up = await bob.http.request(method, path.replace(file["id"], MISSING))
        assert stolen.status_code == made_up.status_code == 404, (method, path)
        assert stolen.json() == made_up.json()
    assert (await bob.http.get("/api/files")).json() == {"items": []}
    assert (await alice.http.get(f"/api/files/{file['id']}")).json()["status"] == "ready"


async def test_a_name_is_only_ever_shown(target: Target) -> None:
    alice = await target.player()
    for name, shown in (("../../../../tmp/evil.txt", "evil.txt"), ("..\\..\\boot.ini", "boot.ini"), ("..", "file")):
        file = await processed(alice, b"words", name)
        assert file["name"] == shown
    made = await alice.http.post("/api/files/uploads", json={"name": "/etc/passwd", "size": 5})
    assert made.json()["file"]["name"] == "passwd"


async def test_uploaded_html_is_never_served_as_a_page(target: Target) -> None:
    alice = await target.player()
    page = b"<html><body><script>fetch('/api/conversations').then(r => r.text()).then(alert)</script></body></html>"
    file = await processed(alice, page, "innocent.png")
    assert file["media_type"] == "text/html"
    response = await alice.http.get(f"/api/files/{file['id']}/content")
    if response.status_code == 302:  # the original, from storage
        async with httpx.AsyncClient(timeout=20) as storage:
            response = await storage.get(response.headers["location"])
    assert response.status_code == 200 and response.content == page
    assert not response.headers["content-type"].startswith(("text/html", "image/svg"))
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers.get("x-content-type-options") == "nosniff" or response.headers["content-type"] == (
        "application/octet-stream"
    )
