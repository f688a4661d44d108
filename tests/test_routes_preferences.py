from __future__ import annotations


async def test_preferences_default_then_saved_per_user(client, alice, bob):
    first = await client.get("/api/preferences", headers=alice.headers)
    assert first.status_code == 200
    assert first.json()["theme"] == "system" and first.json()["presets"] == []
    saved = {
        "model": "mock-model",
        "temperature": 0.4,
        "top_p": 0.9,
        "max_tokens": 300,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "system_prompt": "Answer in French.",
        "theme": "dark",
        "presets": [{"name": "French", "system_prompt": "Answer in French."}],
    }
    put = await client.put("/api/preferences", json=saved, headers=alice.headers)
    assert put.status_code == 200
    assert (await client.get("/api/preferences", headers=alice.headers)).json() == saved
    assert (await client.get("/api/preferences", headers=bob.headers)).json()["theme"] == "system"


async def test_bad_preferences_are_refused(client, alice):
    coerced = ({"top_p": True}, {"temperature": "0.5"}, {"max_tokens": 5.0}, {"system_prompt": 7})  # found by fuzzing
    for body in ({"theme": "neon"}, {"colour": "red"}, {"presets": [{"name": ""}]}, *coerced):
        response = await client.put("/api/preferences", json=body, headers=alice.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_input"
    assert (await client.put("/api/preferences", json={})).status_code == 401


async def test_health_says_when_setup_is_required(client, runtime):
    assert (await client.get("/api/health")).json()["setup_required"] is True
    await runtime.auth.create_user("alice", "long-enough-password")
    assert (await client.get("/api/health")).json()["setup_required"] is False


async def test_conversations_can_be_searched_by_title(client, alice, bob):
    for prompt in ("Trip to Lisbon", "Pasta recipe", "Lisbon trams 100% guide", "Tax forms"):
        await client.post("/api/chat", json={"prompt": prompt}, headers=alice.headers)
    await client.post("/api/chat", json={"prompt": "Lisbon for Bob"}, headers=bob.headers)
    found = (await client.get("/api/conversations", params={"q": "lisbon"}, headers=alice.headers)).json()
    assert [c["title"] for c in found["items"]] == ["Lisbon trams 100% guide", "Trip to Lisbon"]
    literal = (await client.get("/api/conversations", params={"q": "100%"}, headers=alice.headers)).json()
    assert [c["title"] for c in literal["items"]] == ["Lisbon trams 100% guide"]
    underscore = (await client.get("/api/conversations", params={"q": "_"}, headers=alice.headers)).json()
    assert underscore["items"] == []
