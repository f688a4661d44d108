from __future__ import annotations

import json

from parley.errors import ProviderUnavailable
from parley.testing.mock_provider import Reply


def parse_sse(text: str, *, with_ids: bool = False) -> list:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        if "event" not in lines:
            continue  # a retry hint
        event = (lines["event"], json.loads(lines["data"]))
        events.append((*event, lines.get("id")) if with_ids else event)
    return events


async def test_v1_contract_returns_the_whole_answer(client, alice, provider):
    provider.enqueue(Reply(tokens=["Paris", " is", " the", " capital."]))
    response = await client.post(
        "/api/chat",
        json={
            "id": "req-1",
            "prompt": "Capital of France?",
            "params": {"temperature": 0.1, "max_tokens": 50},
        },
        headers=alice.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "req-1"
    assert body["bot"] == "Paris is the capital."
    assert body["finish_reason"] == "stop"
    assert provider.history[-1].params.temperature == 0.1
    assert provider.history[-1].params.max_tokens == 50


async def test_sse_streams_typed_events(client, alice, provider):
    provider.enqueue(Reply(tokens=["a", "b", "c"]))
    async with client.stream(
        "POST", "/api/chat", json={"prompt": "hi"}, headers={**alice.headers, "Accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in response.aiter_text()])
    events = parse_sse(text)
    assert [name for name, _ in events] == ["start", "delta", "delta", "delta", "done"]
    assert [data["seq"] for name, data in events if name == "delta"] == [1, 2, 3]  # one character each
    assert events[0][1]["conversation_id"]


async def test_provider_failure_is_a_clean_error_and_keeps_the_prompt(client, alice, provider, settings):
    for _ in range(settings.provider_retries + 1):
        provider.enqueue(Reply(error=ProviderUnavailable(), error_after=0))
    response = await client.post("/api/chat", json={"prompt": "keep me"}, headers=alice.headers)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "provider_unavailable"
    listing = (await client.get("/api/conversations", headers=alice.headers)).json()["items"]
    detail = (await client.get(f"/api/conversations/{listing[0]['id']}", headers=alice.headers)).json()
    assert detail["messages"][0]["content"] == "keep me"
    assert detail["messages"][1]["status"] == "error"


async def test_sse_delta_ids_are_their_seq(client, alice, provider):
    provider.enqueue(Reply(tokens=["ab", "cdé"]))
    response = await client.post(
        "/api/chat", json={"prompt": "hi"}, headers={**alice.headers, "Accept": "text/event-stream"}
    )
    events = parse_sse(response.text, with_ids=True)
    assert [(name, event_id) for name, _, event_id in events] == [
        ("start", None),
        ("delta", "2"),
        ("delta", "5"),
        ("done", None),
    ]


async def test_answer_events_resume_after_last_event_id(client, alice, provider, runtime):
    tokens = [f"t{i} " for i in range(30)]
    provider.enqueue(Reply(tokens=tokens, delay=0.005))
    user = await runtime.stores.users.get_user_by_name("alice")
    from parley.core.chat.request import ChatRequest

    generation = await runtime.chat.start(user, ChatRequest(prompt="long", msgid="sse1"))
    first = generation.events()
    start = await anext(first)
    have = ""
    while len(have) < 12:
        have += (await anext(first)).text
    generation.detach()
    url = f"/api/chat/sse1/events?conversation_id={start.conversation_id}"
    response = await client.get(url, headers={**alice.headers, "Last-Event-ID": str(len(have))})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text, with_ids=True)
    assert events[-1][0] == "done"
    deltas = [(data, event_id) for name, data, event_id in events if name == "delta"]
    assert have + "".join(data["text"] for data, _ in deltas) == "".join(tokens)
    assert all(event_id == str(data["seq"]) for data, event_id in deltas)

    # Once ended: at once, what was missed after the given id, and how it ended.
    again = await client.get(url + "&after_seq=4", headers=alice.headers)
    events = parse_sse(again.text)
    assert [name for name, _ in events] == ["delta", "done"]
    assert events[0][1]["text"] == "".join(tokens)[4:]


async def test_answer_events_of_another_users_answer_are_not_found(client, alice, bob, provider):
    provider.enqueue(Reply(tokens=["secret"]))
    response = await client.post("/api/chat", json={"id": "mine", "prompt": "hi"}, headers=alice.headers)
    conversation_id = response.json()["conversation_id"]
    stolen = await client.get(f"/api/chat/mine/events?conversation_id={conversation_id}", headers=bob.headers)
    missing = await client.get("/api/chat/nope/events?conversation_id=nope", headers=bob.headers)
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json() == missing.json()
