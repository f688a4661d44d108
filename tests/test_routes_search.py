"""GET /api/search: the user's own words, ranked, with marked snippets; answers once they are final."""

from __future__ import annotations

import asyncio

from parley.core.chat.service import ChatRequest
from parley.testing.mock_provider import Reply
from tests.test_routes_conversations import chat


async def search(client, account, q, **params):
    response = await client.get("/api/search", params={"q": q, **params}, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def marked(hit):
    text, out, at = hit["snippet"], [], 0
    for h in hit["highlights"]:
        out += [text[at : h["start"]], "[", text[h["start"] : h["end"]], "]"]
        at = h["end"]
    return "".join([*out, text[at:]])


async def test_search_finds_questions_answers_and_titles(client, provider, alice, bob):
    provider.enqueue(Reply(tokens=["Glaciers ", "carve ", "fjords ", "slowly."]))
    answer = await chat(client, alice, "Tell me about glaciers")
    conversation_id = answer["conversation_id"]

    found = await search(client, alice, "FJORDS")
    assert found["next_cursor"] is None
    (hit,) = found["items"]
    assert hit == {
        "conversation_id": conversation_id,
        "title": "Tell me about glaciers",
        "message_id": answer["message_id"],
        "role": "assistant",
        "snippet": "Glaciers carve fjords slowly.",
        "highlights": [{"start": 15, "end": 21}],
    }
    everywhere = await search(client, alice, "glaciers")
    assert sorted((h["role"] or "", marked(h)) for h in everywhere["items"]) == [
        ("", "Tell me about [glaciers]"),  # the title: role and message_id null
        ("assistant", "[Glaciers] carve fjords slowly."),
        ("user", "Tell me about [glaciers]"),
    ]
    assert [h["message_id"] for h in everywhere["items"] if h["role"] is None] == [None]
    assert (await search(client, bob, "glaciers"))["items"] == []


async def test_an_answer_is_found_once_it_is_final_not_while_it_streams(client, runtime, provider, alice):
    provider.enqueue(Reply(tokens=["moraine "] * 30, delay=0.05))
    user = await runtime.stores.users.get_user_by_name("alice")
    generation = await runtime.chat.start(user, ChatRequest(prompt="What is till?"))
    conversation_id = None
    for _ in range(100):  # until the answer under way has been saved with some of its words
        await asyncio.sleep(0.05)
        listing = (await client.get("/api/conversations", headers=alice.headers)).json()["items"]
        if listing:
            conversation_id = listing[0]["id"]
            detail = (await client.get(f"/api/conversations/{conversation_id}", headers=alice.headers)).json()
            if "moraine" in detail["messages"][-1]["content"] and detail["messages"][-1]["status"] == "streaming":
                break
    else:
        raise AssertionError("the answer was never saved while streaming")
    assert (await search(client, alice, "moraine"))["items"] == []
    question_and_title = (await search(client, alice, "till"))["items"]
    assert sorted(h["role"] or "" for h in question_and_title) == ["", "user"]  # the question is final at once
    await generation.wait()
    hits = (await search(client, alice, "moraine"))["items"]
    assert [(h["conversation_id"], h["role"]) for h in hits] == [(conversation_id, "assistant")]


async def test_pages_and_bad_input(client, provider, alice):
    for i in range(5):
        provider.enqueue(Reply(tokens=[f"Answer {i} about otters."]))
        await chat(client, alice, f"Question {i}")
    seen, cursor = [], None
    while True:
        page = await search(client, alice, "otters", limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2
        seen += [h["message_id"] for h in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5

    for params in ({}, {"q": "x" * 201}, {"q": "otters", "limit": 0}, {"q": "otters", "limit": 51}):
        response = await client.get("/api/search", params=params, headers=alice.headers)
        assert response.status_code == 422, params
        assert response.json()["error"]["code"] == "invalid_input"
    response = await client.get("/api/search", params={"q": "otters", "cursor": "junk"}, headers=alice.headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_input"
    for q in ('"', "NEAR(", "otters OR", "*", "", "\u0000"):
        assert (await search(client, alice, q))["items"] == []
    assert (await client.get("/api/search", params={"q": "otters"})).status_code == 401
