"""Share links (issue 14): a public route, reached without a session on both paths.

- A revoked link and one that never existed get the same 404 and the same body: nothing tells them apart; a link
  whose conversation was deleted is gone too.
- The public route serves the snapshot and nothing else: a session sent with it changes nothing, it reaches no
  other route, and its answer holds no user data.
- Guessing links from one address is rate-limited (128 random bits make guessing hopeless; scraping is bounded).
- The link's token never reaches the server's log (uvicorn logs every path locally; the emulation runs the same).
"""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from parley.testing.fake_openai import FakeOpenAI
from tests.attacks.test_logs import UPSTREAM_KEY, launch

NEVER_EXISTED = "AAAAAAAAAAAAAAAAAAAAAA"


async def shared(player, prompt="my private plans"):
    """A conversation of ``player`` and a link to it: (conversation id, the created share)."""
    events = await player.ask(prompt, f"share-{secrets.token_hex(4)}")
    conversation_id = events[0]["conversation_id"]
    await player.settled(conversation_id)
    response = await player.http.post(f"/api/conversations/{conversation_id}/shares")
    assert response.status_code == 201, response.text
    return conversation_id, response.json()


async def test_a_revoked_link_is_exactly_a_link_that_never_existed(target, ledger):
    alice = await target.player("alice")
    _, share = await shared(alice)
    async with target.client() as anyone:
        assert (await anyone.get(f"/api/public/shares/{share['token']}")).status_code == 200
        assert (await alice.http.delete(f"/api/shares/{share['id']}")).status_code == 204
        revoked = await anyone.get(f"/api/public/shares/{share['token']}")
        missing = await anyone.get(f"/api/public/shares/{NEVER_EXISTED}")
    ledger.attempt(target.path, "revoked share links", 1)
    assert revoked.status_code == missing.status_code == 404
    assert revoked.content == missing.content
    assert revoked.headers["content-type"] == missing.headers["content-type"]


async def test_deleting_the_conversation_takes_its_links_down(target, ledger):
    alice = await target.player("alice")
    conversation_id, share = await shared(alice)
    assert (await alice.http.delete(f"/api/conversations/{conversation_id}")).status_code == 204
    async with target.client() as anyone:
        gone = await anyone.get(f"/api/public/shares/{share['token']}")
        missing = await anyone.get(f"/api/public/shares/{NEVER_EXISTED}")
    ledger.attempt(target.path, "links of deleted conversations", 1)
    assert gone.status_code == 404 and gone.content == missing.content
    assert (await alice.http.get("/api/shares")).json() == []


async def test_the_public_route_serves_the_snapshot_and_nothing_else(target, ledger):
    alice, bob = await target.player("alice"), await target.player("bob")
    conversation_id, share = await shared(alice, "the hidden plans")
    token = share["token"]
    async with target.client() as anyone:
        plain = await anyone.get(f"/api/public/shares/{token}")
        # Bob's session sent along changes nothing: the route reads no session, and it is not bob's to revoke.
        with_session = await bob.http.get(f"/api/public/shares/{token}")
        assert plain.status_code == with_session.status_code == 200
        assert plain.json() == with_session.json()
        assert plain.json()["messages"][0]["parts"] == [{"type": "text", "text": "the hidden plans"}]
        for private in ("alice", conversation_id, share["id"]):
            assert private not in plain.text
        assert plain.headers["x-robots-tag"] == "noindex, nofollow"
        assert plain.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in plain.headers["content-security-policy"]

        # Nothing past the token, no other method, and no way out of the public prefix without a session.
        attempts = [
            await anyone.get(f"/api/public/shares/{token}/x"),
            await anyone.delete(f"/api/public/shares/{token}"),
            await anyone.post(f"/api/public/shares/{token}", json={}),
            await anyone.get("/api/public/shares/"),
            await anyone.get("/api/public/shares"),
            await anyone.get(f"/api/public/shares/{token}/../../conversations/{conversation_id}"),
            await anyone.get(f"/api/public/shares/%2e%2e%2f%2e%2e%2fconversations%2f{conversation_id}"),
            await anyone.get("/api/shares"),
            await anyone.delete(f"/api/shares/{share['id']}"),
            await anyone.post(f"/api/conversations/{conversation_id}/shares"),
        ]
        ledger.attempt(target.path, "public route misuse", len(attempts))
        for attempt in attempts:
            assert attempt.status_code in (401, 404, 405), (attempt.request.url, attempt.status_code)
            assert "the hidden plans" not in attempt.text
        assert (await anyone.get(f"/api/public/shares/{token}")).status_code == 200  # still there


@pytest.mark.target_settings(share_views_per_minute=20)
async def test_guessing_links_is_rate_limited_per_address(target, ledger):
    async with target.client() as guesser:
        statuses = [
            (await guesser.get(f"/api/public/shares/{secrets.token_urlsafe(16)}")).status_code for _ in range(15)
        ]
        ledger.attempt(target.path, "share link guesses", len(statuses))
        assert statuses[:10] == [404] * 10  # a burst of half the minute's budget
        assert statuses[-1] == 429
        refused = await guesser.get(f"/api/public/shares/{NEVER_EXISTED}")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize("path", ["local", "aws"])
def test_a_link_token_never_reaches_the_log(path, tmp_path, ledger):
    with FakeOpenAI(api_key=UPSTREAM_KEY).run_in_thread() as fake, launch(path, tmp_path, fake) as launched:
        launched.cli("users", "add", "alice", "--password-stdin", stdin="a share-log password 42\n")
        token = asyncio.run(_share_and_open(launched.url))
    log = "".join(launched.lines)
    (tmp_path / "everything.log").write_text(log)
    ledger.attempt(path, "log searches", 1)
    assert token not in log
    if path == "local":  # the access log still names the requests, redacted
        assert "/s/[redacted]" in log and "/api/public/shares/[redacted]" in log


async def _share_and_open(base: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        login = await http.post("/api/login", json={"username": "alice", "password": "a share-log password 42"})
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        chat = await http.post("/api/chat", json={"prompt": "hello"}, headers=headers)
        assert chat.status_code == 200, chat.text
        made = await http.post(f"/api/conversations/{chat.json()['conversation_id']}/shares", headers=headers)
        assert made.status_code == 201, made.text
        token: str = made.json()["token"]
        async with httpx.AsyncClient(base_url=base, timeout=20) as anyone:
            await anyone.get(made.json()["url"])  # the page (the web app, when it is built)
            assert (await anyone.get(f"/api/public/shares/{token}")).status_code == 200
        assert (await http.delete(f"/api/shares/{made.json()['id']}", headers=headers)).status_code == 204
        assert (await http.get(f"/api/public/shares/{token}")).status_code == 404
    return token
