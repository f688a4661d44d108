"""Bad files and stolen ids on the history routes (issue 14), on both paths: an import's file goes through this
server locally and straight to the history bucket on AWS, and either way a zip bomb, a JSON nested 10,000 deep or a
file that is not what its name says ends as a failed job with a clear reason, having made nothing; an upload past
the cap is refused before it is stored; another user's job or export is not found; a download link works once."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import zipfile
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.attacks.targets import Player, Target
from tests.test_history import archive_of, conversation_doc, message_doc

MISSING_JOB = "0123456789abcdef0123456789abcdef"
CAP = 1024 * 1024


async def upload(player: Player, content: bytes, name: str, *, declared: int | None = None) -> httpx.Response:
    """The web app's two steps: a job and where its file goes, then the file, there."""
    size = len(content) if declared is None else declared
    made = await player.http.post("/api/imports/uploads", json={"file_name": name, "size": size})
    assert made.status_code == 201, made.text
    target = made.json()["upload"]
    files = {"file": (name, content, "application/octet-stream")}
    if target["url"].startswith("/"):
        return await player.http.post(target["url"], files=files)
    async with httpx.AsyncClient(timeout=20) as storage:  # a presigned POST: no session goes to the bucket
        return await storage.post(target["url"], data=target["fields"], files=files)


async def import_file(player: Player, content: bytes, name: str) -> dict:
    made_before = (await player.http.get("/api/imports")).json()["items"]
    response = await upload(player, content, name)
    assert response.status_code in (202, 204), response.text
    job_id = (await player.http.get("/api/imports")).json()["items"][0]["id"]
    assert job_id not in {job["id"] for job in made_before}
    # Up to a minute: on the serverless path the file goes to the bucket, its event to the worker, under coverage
    # on a busy 2-core machine.
    for _ in range(600):
        job = (await player.http.get(f"/api/imports/{job_id}")).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"the import of {name} did not end")


async def send_two_gigabytes(
    player: Player, *, declare_length: bool, path: str = "/api/imports"
) -> tuple[int | None, int]:
    """POST a 2 GB multipart body to an upload route, a megabyte at a time; the status (None: the server closed
    the connection on it) and how many bytes went before it stopped taking them."""
    sent = 0
    two_gb = 2 * 1024**3

    async def body():
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="huge.zip"\r\n\r\n'
        while sent < two_gb:
            sent += 1024 * 1024
            yield b"\0" * (1024 * 1024)

    headers = {"content-type": "multipart/form-data; boundary=b"}
    if declare_length:
        headers["content-length"] = str(two_gb + 200)
    try:
        response = await player.http.post(path, headers=headers, content=body())
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None, sent  # answered and closed while the body was still coming: refused just the same
    return response.status_code, sent


async def conversations(player: Player) -> list[dict]:
    return (await player.http.get("/api/conversations")).json()["items"]


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps({"format": "parley-export", "version": 1, "files": ["c.json"]}))
        archive.writestr("c.json", b"\0" * (64 * 1024 * 1024))  # 64 MB of zeros in about 64 KB
    return out.getvalue()


async def test_bad_files_fail_their_job_with_a_reason_and_make_nothing(target: Target, ledger) -> None:
    alice = await target.player()
    deep = b'{"format": "parley-conversation", "version": 1, "messages": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    cases = {
        "bomb.zip": (zip_bomb(), "zip bomb"),
        "deep.json": (deep, "nests deeper than"),
        "conversations.json": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64, "not a file Parley can import"),
    }
    for name, (content, reason) in cases.items():
        job = await import_file(alice, content, name)
        assert job["status"] == "failed" and reason in job["error"], job
        assert job["conversations_imported"] == 0
        ledger.attempt(target.path, "bad import files")
    assert await conversations(alice) == []

    # And a good file still imports after them.
    good = archive_of(conversation_doc("Fine", [message_doc("a", None)]))
    assert (await import_file(alice, good, "good.zip"))["conversations_imported"] == 1


@pytest.mark.target_settings(max_import_bytes=CAP)
async def test_an_upload_past_the_cap_is_refused_before_it_is_stored(target: Target, ledger) -> None:
    alice = await target.player()
    disk_before = shutil.disk_usage(target.settings.data_dir.parent).used

    # Asking to upload 2 GB is refused before a byte is sent.
    asked = await alice.http.post("/api/imports/uploads", json={"file_name": "huge.zip", "size": 2 * 1024**3})
    assert asked.status_code == 413 and asked.json()["error"]["code"] == "too_large"

    # A body that says it is 2 GB is refused on its headers, and one that does not say keeps being refused as it
    # arrives: either way the answer is 413 long before 2 GB could be sent.
    for declare in (True, False):
        status, sent = await send_two_gigabytes(alice, declare_length=declare)
        assert status in (413, None), status
        # What slips into socket buffers before the close depends on the machine: tens of MB at most, never 2 GB.
        assert sent <= 64 * 1024 * 1024, f"{sent:,} bytes were taken before the refusal ({declare=})"

    # Through the two steps too: the file past the cap is refused where it is sent (this server, or the bucket's
    # policy), and no job runs.
    refused = await upload(alice, b"\0" * (CAP + 1), "big.zip", declared=100)  # a size it does not keep to
    job_id = (await alice.http.get("/api/imports")).json()["items"][0]["id"]
    if refused.status_code == 204:
        # moto does not enforce a presigned POST's content-length-range (S3 answers 400 EntityTooLarge); the
        # import worker checks the object's size before reading it, and removes it.
        for _ in range(200):
            job = (await alice.http.get(f"/api/imports/{job_id}")).json()
            if job["status"] != "queued":
                break
            await asyncio.sleep(0.05)
        assert job["status"] == "failed" and "larger than this server accepts" in job["error"], job
    else:
        assert refused.status_code == 413, refused.text
        await asyncio.sleep(0.5)
        assert (await alice.http.get(f"/api/imports/{job_id}")).json()["status"] == "queued"
    assert await conversations(alice) == []
    assert shutil.disk_usage(target.settings.data_dir.parent).used - disk_before < 64 * 1024 * 1024
    imports_dir = target.settings.imports_dir
    assert not imports_dir.exists() or list(imports_dir.iterdir()) == []


async def test_another_users_import_job_and_export_are_not_found(target: Target) -> None:
    alice, bob = await target.player(), await target.player()
    job = await import_file(alice, archive_of(conversation_doc("Secret", [message_doc("a", None)])), "mine.zip")
    conversation_id = (await conversations(alice))[0]["id"]

    for job_id in (job["id"], MISSING_JOB):
        missing = await bob.http.get(f"/api/imports/{job_id}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        refused = await bob.http.post(f"/api/imports/{job_id}/file", files={"file": ("x.zip", b"PK")})
        assert refused.status_code == 404
    assert (await bob.http.get("/api/imports")).json()["items"] == []
    for query in ("", "?format=markdown"):
        stolen = await bob.http.get(f"/api/conversations/{conversation_id}/export{query}")
        made_up = await bob.http.get(f"/api/conversations/{MISSING_JOB}/export{query}")
        assert stolen.status_code == made_up.status_code == 404
        assert stolen.json() == made_up.json()
    archive = await bob.http.get("/api/export")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert json.loads(opened.read("manifest.json"))["conversations"] == 0


async def test_an_export_link_is_short_lived_and_a_local_one_works_once(target: Target) -> None:
    alice = await target.player()
    url = (await alice.http.post("/api/exports")).json()["download_url"]
    async with httpx.AsyncClient(base_url=target.url, timeout=20) as browser:  # no session: the link is enough
        first = await browser.get(url)
        assert first.status_code == 200
        with zipfile.ZipFile(io.BytesIO(first.content)) as opened:
            assert json.loads(opened.read("manifest.json"))["format"] == "parley-export"
        if url.startswith("/"):
            again = await browser.get(url)
            assert again.status_code == 404 and "expired or was used" in again.json()["error"]["message"]
            assert (await browser.get("/api/exports/" + "A" * 43)).status_code == 404
        else:  # S3's own presigned link: it names who may fetch what, for five minutes
            query = parse_qs(urlsplit(url).query)
            assert int(query.get("X-Amz-Expires", query.get("Expires", ["0"]))[0]) <= 300
            assert "/exports/" in urlsplit(url).path
