from __future__ import annotations

import json

from parley.errors import ProviderUnavailable
from parley.testing.mock_provider import Reply


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
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
    assert [data["seq"] for name, data in events if name == "delta"] == [1, 2, 3]
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
