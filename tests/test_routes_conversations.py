from __future__ import annotations

import pytest

from parley.errors import ProviderUnavailable, StreamInterrupted
from parley.testing.mock_provider import Reply


async def chat(client, account, prompt="Hello", **extra):
    response = await client.post("/api/chat", json={"prompt": prompt, **extra}, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_conversations_are_listed_newest_first_and_paginated(client, alice):
    ids = [(await chat(client, alice, f"question {i}"))["conversation_id"] for i in range(5)]
    first = await client.get("/api/conversations?limit=2", headers=alice.headers)
    assert first.status_code == 200
    page = first.json()
    assert [c["id"] for c in page["items"]] == ids[::-1][:2]
    seen = [c["id"] for c in page["items"]]
    while page["next_cursor"]:
        response = await client.get(
            "/api/conversations", params={"limit": 2, "cursor": page["next_cursor"]}, headers=alice.headers
        )
        page = response.json()
        seen += [c["id"] for c in page["items"]]
    assert seen == ids[::-1]


async def test_a_conversation_opens_with_its_messages(client, alice):
    answer = await chat(client, alice, "What is up?")
    response = await client.get(f"/api/conversations/{answer['conversation_id']}", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "What is up?"
    assert [(m["role"], m["content"], m["status"]) for m in body["messages"]] == [
        ("user", "What is up?", "complete"),
        ("assistant", "Hello there!", "complete"),
    ]


async def test_the_detail_is_the_current_branch_with_siblings_and_the_branch_can_be_switched(client, alice, bob):
    first = await chat(client, alice, "Which river?")
    conversation_id = first["conversation_id"]
    url = f"/api/conversations/{conversation_id}"
    detail = (await client.get(url, headers=alice.headers)).json()
    question, answer = detail["messages"]
    assert detail["current_leaf_id"] == answer["id"] == first["message_id"]
    assert (question["parent_id"], answer["parent_id"]) == (None, question["id"])
    assert (question["sibling_ids"], answer["sibling_ids"]) == ([question["id"]], [answer["id"]])

    edit = {"conversation_id": conversation_id, "edit_message_id": question["id"]}
    edited = await chat(client, alice, "Which mountain?", **edit)
    edited_question = (await client.get(url, headers=alice.headers)).json()["messages"][0]["id"]
    regenerated = await chat(client, alice, "Which mountain?", **{**edit, "edit_message_id": edited_question})
    detail = (await client.get(url, headers=alice.headers)).json()
    assert [m["content"] for m in detail["messages"]] == ["Which mountain?", "Hello there!"]
    new_question, new_answer = detail["messages"]
    assert detail["current_leaf_id"] == new_answer["id"] == regenerated["message_id"]
    assert new_question["sibling_ids"] == [question["id"], new_question["id"]]
    assert new_answer["sibling_ids"] == [edited["message_id"], regenerated["message_id"]]

    # "< 1 / 2 >" on the question: the first branch again, kept for every later read.
    switched = await client.put(f"{url}/leaf", json={"message_id": question["id"]}, headers=alice.headers)
    assert switched.status_code == 200, switched.text
    assert [m["id"] for m in switched.json()["messages"]] == [question["id"], answer["id"]]
    assert switched.json()["current_leaf_id"] == answer["id"]
    assert (await client.get(url, headers=alice.headers)).json()["messages"] == switched.json()["messages"]
    # The other answer of the edited question: the branch down to it.
    switched = await client.put(f"{url}/leaf", json={"message_id": edited["message_id"]}, headers=alice.headers)
    assert switched.json()["current_leaf_id"] == edited["message_id"]

    missing = await client.put(f"{url}/leaf", json={"message_id": "no-such-message"}, headers=alice.headers)
    stolen = await client.put(f"{url}/leaf", json={"message_id": question["id"]}, headers=bob.headers)
    assert missing.status_code == stolen.status_code == 404
    assert (await client.get(url, headers=alice.headers)).json()["current_leaf_id"] == edited["message_id"]
    for bad in ({}, {"message_id": ""}, {"message_id": 7}, {"message_id": "x" * 65}, {"message_id": "x", "more": 1}):
        response = await client.put(f"{url}/leaf", json=bad, headers=alice.headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input", bad


async def test_rename_and_delete(client, alice):
    conversation_id = (await chat(client, alice))["conversation_id"]
    renamed = await client.patch(
        f"/api/conversations/{conversation_id}", json={"title": "  Trip   plans "}, headers=alice.headers
    )
    assert renamed.status_code == 200 and renamed.json()["title"] == "Trip plans"
    assert (await client.delete(f"/api/conversations/{conversation_id}", headers=alice.headers)).status_code == 204
    assert (await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)).status_code == 404
    listing = await client.get("/api/conversations", headers=alice.headers)
    assert listing.json()["items"] == []


async def test_another_users_conversation_is_404_on_every_route(client, alice, bob):
    conversation_id = (await chat(client, alice))["conversation_id"]
    url = f"/api/conversations/{conversation_id}"
    missing = await client.get("/api/conversations/0123456789abcdef", headers=bob.headers)
    attempts = [
        await client.get(url, headers=bob.headers),
        await client.patch(url, json={"title": "mine now"}, headers=bob.headers),
        await client.delete(url, headers=bob.headers),
        await client.post("/api/chat", json={"prompt": "hi", "conversation_id": conversation_id}, headers=bob.headers),
    ]
    for response in attempts:
        assert response.status_code == 404
        assert response.json() == missing.json()  # no hint that the object exists
    still_there = await client.get(url, headers=alice.headers)
    assert still_there.status_code == 200 and still_there.json()["title"] != "mine now"
    assert len(still_there.json()["messages"]) == 2
    assert (await client.get("/api/conversations", headers=bob.headers)).json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/models"),
        ("GET", "/api/conversations"),
        ("GET", "/api/conversations/abc"),
        ("PATCH", "/api/conversations/abc"),
        ("DELETE", "/api/conversations/abc"),
        ("PUT", "/api/conversations/abc/leaf"),
        ("POST", "/api/chat"),
        ("POST", "/api/logout"),
        ("POST", "/api/ws-ticket"),
    ],
)
async def test_every_protected_route_requires_a_token(client, method, path):
    response = await client.request(method, path, json={"prompt": "x", "title": "x", "message_id": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_bad_input_gets_a_clear_4xx(client, alice):
    cases = [
        await client.get("/api/conversations?limit=0", headers=alice.headers),
        await client.get("/api/conversations?cursor=!!!not-a-cursor", headers=alice.headers),
        await client.post("/api/chat", json={"params": {}}, headers=alice.headers),
        await client.post("/api/chat", json={"prompt": "hi", "params": {"temprature": 1}}, headers=alice.headers),
        await client.post("/api/chat", json={"prompt": "hi", "params": {"top_p": 7}}, headers=alice.headers),
        await client.post(
            "/api/chat", content=b"{not json", headers={**alice.headers, "Content-Type": "application/json"}
        ),
        await client.patch("/api/conversations/abc", json={"title": ""}, headers=alice.headers),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        error = response.json()["error"]
        assert error["code"] and error["message"]
        assert "Traceback" not in response.text


async def test_oversized_body_is_refused_with_413(client, alice, settings):
    big = "x" * (settings.max_body_bytes + 10)
    response = await client.post("/api/chat", json={"prompt": big}, headers=alice.headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_models_lists_ranges_and_default(client, alice):
    response = await client.get("/api/models", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["default_model"] == "mock-model"
    model = body["models"][0]
    assert model["provider"] == "mock"
    assert set(model["parameters"]) == {
        "temperature",
        "top_p",
        "max_tokens",
        "frequency_penalty",
        "presence_penalty",
    }
    assert model["parameters"]["temperature"]["max"] == 2.0


async def test_health_and_openapi(client):
    health = await client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    spec = (await client.get("/openapi.json")).json()
    for path in [
        "/api/login",
        "/api/logout",
        "/api/models",
        "/api/conversations",
        "/api/conversations/{conversation_id}/leaf",
        "/api/chat",
        "/api/ws-ticket",
    ]:
        assert path in spec["paths"]


async def test_an_answer_that_ended_early_says_why_after_a_reload(client, alice, provider, settings):
    # The live error event is gone once the page reloads: the saved answer carries the same words.
    conversation_id = (await chat(client, alice, "first"))["conversation_id"]
    provider.enqueue(*[Reply(error=ProviderUnavailable(), error_after=0)] * (settings.provider_retries + 1))
    provider.enqueue(Reply(tokens=["half ", "an ", "answer"], error=StreamInterrupted(), error_after=2))
    for prompt in ("second", "third"):
        response = await client.post(
            "/api/chat", json={"prompt": prompt, "conversation_id": conversation_id}, headers=alice.headers
        )
        assert response.status_code >= 500  # /api/chat answers in one piece: a failure is its status

    response = await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)
    answers = [m for m in response.json()["messages"] if m["role"] == "assistant"]
    assert [(m["status"], m["finish_reason"], m["error"]) for m in answers] == [
        ("complete", "stop", None),
        ("error", "provider_unavailable", ProviderUnavailable.default_message),
        ("interrupted", "stream_interrupted", StreamInterrupted.default_message),
    ]
