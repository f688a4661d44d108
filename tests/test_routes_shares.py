"""Share links over the HTTP API: made, listed and revoked by their owner, read by anyone holding the link."""

from __future__ import annotations

import pytest

from parley.core.shares.service import NOT_FOUND, hash_token
from parley.server.browser_headers import CONTENT_SECURITY_POLICY

MISSING_TOKEN = "AAAAAAAAAAAAAAAAAAAAAA"


async def chat(client, account, prompt, **extra):
    response = await client.post("/api/chat", json={"prompt": prompt, **extra}, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def share(client, account, conversation_id):
    response = await client.post(f"/api/conversations/{conversation_id}/shares", headers=account.headers)
    assert response.status_code == 201, response.text
    return response.json()


def text(message):
    return "".join(part["text"] for part in message["parts"])


async def public(client, token, **options):
    return await client.get(f"/api/public/shares/{token}", **options)


async def test_a_share_is_a_snapshot_of_the_current_branch(client, alice, provider):
    from parley.testing.mock_provider import Reply

    first = await chat(client, alice, "What is *markdown*?")
    conversation_id = first["conversation_id"]
    made = await share(client, alice, conversation_id)
    assert made["url"] == f"/s/{made['token']}" and len(made["token"]) >= 22
    assert (made["title"], made["conversation_id"]) == ("What is *markdown*?", conversation_id)

    # Later: a new message, an edit that switches the branch, a rename. The link shows what was shared.
    provider.enqueue(Reply(tokens=["Later answer"]))
    await chat(client, alice, "And then?", conversation_id=conversation_id)
    question = (await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)).json()["messages"][0]
    await chat(client, alice, "Edited question", conversation_id=conversation_id, edit_message_id=question["id"])
    await client.patch(f"/api/conversations/{conversation_id}", json={"title": "Renamed"}, headers=alice.headers)

    response = await public(client, made["token"])
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "What is *markdown*?"
    assert body["shared_at"] == made["created_at"]
    assert [(m["role"], text(m)) for m in body["messages"]] == [
        ("user", "What is *markdown*?"),
        ("assistant", "Hello there!"),
    ]
    assert body["messages"][0]["parts"] == [{"type": "text", "text": "What is *markdown*?"}]
    assert body["messages"][1]["model"] == "mock-model"

    # A second share of the same conversation shows its branch as it is now.
    again = await share(client, alice, conversation_id)
    assert again["token"] != made["token"]
    texts = [text(m) for m in (await public(client, again["token"])).json()["messages"]]
    assert texts == ["Edited question", "Hello there!"]


async def test_the_public_answer_holds_no_user_data_and_is_never_cached_or_indexed(client, alice):
    conversation_id = (await chat(client, alice, "Hi"))["conversation_id"]
    made = await share(client, alice, conversation_id)
    response = await public(client, made["token"])
    assert set(response.json()) == {"title", "shared_at", "messages"}
    assert {key for m in response.json()["messages"] for key in m} == {"role", "parts", "model", "created_at"}
    body = response.text
    for private in ("alice", conversation_id, made["id"], made["token"], hash_token(made["token"])):
        assert private not in body
    for answer in (response, await public(client, MISSING_TOKEN)):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-robots-tag"] == "noindex, nofollow"
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["referrer-policy"] == "no-referrer"


async def test_the_owner_lists_and_revokes_and_a_revoked_link_is_a_link_that_never_existed(client, alice):
    one = await share(client, alice, (await chat(client, alice, "One"))["conversation_id"])
    two = await share(client, alice, (await chat(client, alice, "Two"))["conversation_id"])
    listed = (await client.get("/api/shares", headers=alice.headers)).json()
    assert [s["id"] for s in listed] == [two["id"], one["id"]]
    assert all(set(s) == {"id", "conversation_id", "title", "created_at"} for s in listed)  # no token

    assert (await client.delete(f"/api/shares/{one['id']}", headers=alice.headers)).status_code == 204
    revoked, missing = await public(client, one["token"]), await public(client, MISSING_TOKEN)
    assert revoked.status_code == missing.status_code == 404
    assert revoked.json() == missing.json() == {"error": {"code": "not_found", "message": NOT_FOUND}}
    assert (await client.delete(f"/api/shares/{one['id']}", headers=alice.headers)).status_code == 404
    assert [s["id"] for s in (await client.get("/api/shares", headers=alice.headers)).json()] == [two["id"]]
    assert (await public(client, two["token"])).status_code == 200


async def test_other_users_cannot_share_list_or_revoke(client, alice, bob):
    conversation_id = (await chat(client, alice, "Mine"))["conversation_id"]
    made = await share(client, alice, conversation_id)
    stolen = await client.post(f"/api/conversations/{conversation_id}/shares", headers=bob.headers)
    missing = await client.post("/api/conversations/0123456789abcdef/shares", headers=bob.headers)
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json() == missing.json()
    assert (await client.get("/api/shares", headers=bob.headers)).json() == []
    assert (await client.delete(f"/api/shares/{made['id']}", headers=bob.headers)).status_code == 404
    assert (await public(client, made["token"])).status_code == 200
    for method, url in [("POST", f"/api/conversations/{conversation_id}/shares"), ("GET", "/api/shares")]:
        assert (await client.request(method, url)).status_code == 401


async def test_deleting_the_conversation_revokes_its_links(client, alice):
    conversation_id = (await chat(client, alice, "Soon gone"))["conversation_id"]
    made = await share(client, alice, conversation_id)
    assert (await client.delete(f"/api/conversations/{conversation_id}", headers=alice.headers)).status_code == 204
    assert (await public(client, made["token"])).status_code == 404
    assert (await client.get("/api/shares", headers=alice.headers)).json() == []


async def test_an_empty_conversation_has_nothing_to_share(client, alice, runtime):
    users = runtime.stores.users
    user = await users.get_user_by_name("alice")
    conversation = await runtime.stores.conversations.create_conversation(user.id, "empty", "mock-model")
    response = await client.post(f"/api/conversations/{conversation.id}/shares", headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "There is nothing to share yet: the conversation has no messages."


@pytest.mark.parametrize("token", ["short", "x" * 65, "not a token!", "a.b.c.d.e.f.g.h.i.j.k.l.m"])
async def test_what_cannot_be_a_token_is_refused_before_any_lookup(client, token):
    response = await public(client, token)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


async def test_reading_links_is_rate_limited_per_address(settings, provider, tmp_path):
    import httpx

    from parley.core.providers.registry import ModelRegistry
    from parley.runtime import open_runtime
    from parley.server.app import create_app

    limited = settings.with_overrides(share_views_per_minute=4)
    registry = ModelRegistry()
    registry.add_provider(provider, await provider.list_models())
    async with open_runtime(limited, models=registry) as runtime:
        transport = httpx.ASGITransport(app=create_app(limited, runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            statuses = [(await public(http, MISSING_TOKEN)).status_code for _ in range(4)]
    assert statuses[:2] == [404, 404]  # a burst of half the minute's budget passes
    assert statuses[-1] == 429


async def test_a_conversation_too_long_for_one_answer_is_not_shared(client, alice, runtime):
    from parley.core.shares.service import MAX_SNAPSHOT_BYTES
    from parley.core.store.base import MessageStatus
    from parley.core.store.parts import text_parts

    user = await runtime.stores.users.get_user_by_name("alice")
    conversation = await runtime.stores.conversations.create_conversation(user.id, "long", "mock-model")
    parent = None
    for _ in range(3):  # three messages of 400 KB: each fine, together past the limit
        message = await runtime.stores.messages.append(
            user.id,
            conversation.id,
            parent_id=parent,
            role="user",
            parts=text_parts("é" * (MAX_SNAPSHOT_BYTES // 5)),
            status=MessageStatus.COMPLETE,
        )
        parent = message.id
    response = await client.post(f"/api/conversations/{conversation.id}/shares", headers=alice.headers)
    assert response.status_code == 400
    assert "too long to share" in response.json()["error"]["message"]
    assert (await client.get("/api/shares", headers=alice.headers)).json() == []
