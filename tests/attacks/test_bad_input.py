"""Bad input at every door: oversized bodies, malformed JSON, missing and mistyped fields on every route that
takes a body, and the same on the WebSocket. Each is refused with a 4xx JSON error or an error event, never
a 5xx, and the server keeps serving."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from tests.attacks.targets import events_until_end, send_prompt

# Every route that reads a body (the OpenAPI spec is checked against this list below).
BODY_ROUTES = [
    ("POST", "/api/login"),
    ("POST", "/api/setup"),
    ("POST", "/api/signup"),
    ("POST", "/api/chat"),
    ("PUT", "/api/preferences"),
    ("PATCH", "/api/conversations/{id}"),
    ("PUT", "/api/conversations/{id}/leaf"),
    ("POST", "/api/keys"),
    # With a session it is refused before its body is read; test_api_keys.py sends bad bodies with a key.
    ("POST", "/v1/chat/completions"),
    ("PUT", "/api/admin/budgets/{username}"),  # an admin's: the player is refused (4xx) whatever it sends
    ("POST", "/api/imports/uploads"),
    ("POST", "/api/files/uploads"),
]
# Uploads of files to import and to attach (multipart, with caps of their own): their bad input is in
# test_history.py and test_files.py.
UPLOAD_ROUTES = [
    ("POST", "/api/imports"),
    ("POST", "/api/imports/{job_id}/file"),
    ("POST", "/api/files"),
    ("POST", "/api/files/{file_id}/content"),
]
# Routes without a body must not trip over one either.
BODYLESS_ROUTES = [("POST", "/api/ws-ticket")]

DEEP = 20_000  # nesting far deeper than Python's recursion limit, in a message under the size limit
MALFORMED = [
    b"{",
    b"not json",
    b'{"username": "a", "password": ',
    b"\xff\xfe\x00garbage",
    b"[" * DEEP + b"]" * DEEP,
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    b"null",
    b"[]",
    b'"a string"',
    b"12",
    b'{"title": NaN, "prompt": Infinity}',
    b"",
]
WRONG_SHAPES = [
    {},
    {"unknown": 1},
    {"username": 1, "password": ["x"]},
    {"prompt": 5},
    {"prompt": "hi", "params": "hot"},
    {"prompt": "hi", "params": {"temperature": "very"}},
    {"prompt": "hi", "params": {"max_tokens": 1e300}},
    {"prompt": "hi", "id": "x" * 65},
    {"title": ""},
    {"title": None},
    {"message_id": 7},
    {"message_id": "x" * 65},
    {"theme": "neon"},
    {"presets": [{"name": "x"}]},
    {"presets": "all"},
]


def body_limit(settings, path: str) -> int:
    """The most a route reads: /v1's completions have a cap of their own (images ride in them as data URLs)."""
    return settings.max_completion_bytes if path == "/v1/chat/completions" else settings.max_body_bytes


async def conversation_id_of(player) -> str:
    events = await player.ask("make one conversation", "setup-1")
    return events[0]["conversation_id"]


def concrete(path: str, conversation_id: str) -> str:
    return path.replace("{id}", conversation_id).replace("{username}", "someone")


def assert_refused(response: httpx.Response, sent: object) -> None:
    assert 400 <= response.status_code < 500, (sent, response.status_code, response.text[:300])
    error = response.json()["error"]  # a JSON error the client can show, not a page or a traceback
    assert error["code"] and error["message"], (sent, response.text[:300])
    assert "Traceback" not in response.text


async def assert_healthy(target) -> None:
    async with target.client() as http:
        assert (await http.get("/api/health")).status_code == 200


async def test_every_body_route_is_in_the_list(target):
    async with target.client() as http:
        spec = (await http.get("/openapi.json")).json()
    with_body = {
        (method.upper(), path.replace("{conversation_id}", "{id}"))
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    assert with_body == set(BODY_ROUTES + UPLOAD_ROUTES)


# /v1's own cap (20 MB by default: images ride in its bodies) made small, so its refusal is tested like the others'.
@pytest.mark.target_settings(max_completion_bytes=300_000)
async def test_an_oversized_body_is_refused_with_413_on_every_route(target, ledger):
    player = await target.player()
    conversation = await conversation_id_of(player)
    attempts = 0
    for method, path in BODY_ROUTES + BODYLESS_ROUTES:
        url = concrete(path, conversation)
        too_big = body_limit(target.settings, path) + 1
        declared = json.dumps({"prompt": "x" * too_big}).encode()
        response = await player.http.request(
            method, url, content=declared, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413 and response.json()["error"]["code"] == "too_large", (path, response)
        attempts += 1
        if (method, path) in BODYLESS_ROUTES:
            continue  # without Content-Length, a body nobody reads is never buffered past a few KiB: no harm

        async def chunks(size=too_big):  # no Content-Length: the limit counts what arrives
            for _ in range(size // 65536 + 1):
                yield b"x" * 65536

        response = await player.http.request(
            method, url, content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413 and response.json()["error"]["code"] == "too_large", (path, response)
        attempts += 1
    ledger.attempt(target.path, "oversized bodies", attempts)
    await assert_healthy(target)


async def test_malformed_json_is_a_4xx_on_every_route(target, ledger):
    player = await target.player()
    conversation = await conversation_id_of(player)
    attempts = 0
    for method, path in BODY_ROUTES:
        for body in MALFORMED:
            response = await player.http.request(
                method, concrete(path, conversation), content=body, headers={"content-type": "application/json"}
            )
            assert_refused(response, (path, body[:40]))
            attempts += 1
    for method, path in BODYLESS_ROUTES:  # a body nobody reads is no harm
        for body in MALFORMED:
            response = await player.http.request(method, path, content=body)
            assert response.status_code < 500, (path, body[:40], response.text[:300])
            attempts += 1
    ledger.attempt(target.path, "malformed JSON bodies", attempts)
    await assert_healthy(target)


async def test_missing_and_mistyped_fields_are_a_4xx_on_every_route(target, ledger):
    player = await target.player()
    conversation = await conversation_id_of(player)
    attempts = 0
    for method, path in BODY_ROUTES:
        for body in WRONG_SHAPES:
            response = await player.http.request(method, concrete(path, conversation), json=body)
            if response.status_code < 300:  # some shapes are valid for some routes ({"title": "x"}...)
                continue
            assert_refused(response, (path, body))
            attempts += 1
        # A body that is not JSON at all, whatever it says it is.
        response = await player.http.request(
            method,
            concrete(path, conversation),
            content=b"username=a&password=b",
            headers={"content-type": "text/plain"},
        )
        assert_refused(response, (path, "form"))
        attempts += 1
    ledger.attempt(target.path, "mistyped bodies", attempts)
    await assert_healthy(target)


WS_MALFORMED = [
    "{",
    "not json",
    "[" * DEEP + "]" * DEEP,
    '{"a":' * DEEP + "1" + "}" * DEEP,
    "null",
    "[]",
    '"text"',
    "{}",
    '{"action": "sendprompt"}',
    '{"action": "sendprompt", "payload": {}}',
    '{"action": "sendprompt", "payload": {"msgid": "m1"}}',
    '{"action": "sendprompt", "payload": {"msgid": "m2", "prompt": 5}}',
    '{"action": "sendprompt", "payload": {"msgid": "m3", "prompt": "hi", "params": {"temperature": NaN}}}',
    '{"action": "sendprompt", "payload": {"msgid": "m4", "prompt": "hi", "params": []}}',
    '{"action": "sendprompt", "payload": {"msgid": "' + "x" * 100 + '", "prompt": "hi"}}',
    '{"action": "stop"}',
    '{"action": "stop", "payload": {"msgid": 7}}',
    '{"action": "dance", "payload": {}}',
    '{"action": "sendprompt", "payload": {"msgid": "m5", "prompt": "hi"}, "extra": 1}',
]


async def test_malformed_websocket_messages_get_an_error_event_and_the_socket_stays_open(target, ledger):
    player = await target.player()
    async with await player.socket() as ws:
        for raw in WS_MALFORMED:
            await ws.send(raw)
            event = json.loads(await ws.recv())
            assert event["type"] == "error" and event["code"] == "invalid_input", (raw[:80], event)
        await send_prompt(ws, "still here?", "after-1")
        assert (await events_until_end(ws, "after-1"))[-1]["type"] == "done"
    ledger.attempt(target.path, "malformed WebSocket messages", len(WS_MALFORMED))
    await assert_healthy(target)


async def test_a_binary_frame_closes_the_socket_with_1003(target, ledger):
    """API Gateway refuses binary frames with 1003 (unsupported data); the local server does the same."""
    player = await target.player()
    async with await player.socket() as ws:
        await ws.send(b"\x00\x01 not text")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    ledger.attempt(target.path, "binary WebSocket frames", 1)
    await assert_healthy(target)


async def test_an_oversized_websocket_message_closes_the_socket_with_1009(target, ledger):
    player = await target.player()
    async with await player.socket(max_size=None) as ws:
        await ws.send(json.dumps({"action": "sendprompt", "payload": {"msgid": "big", "prompt": "x" * 2_000_000}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    ledger.attempt(target.path, "oversized WebSocket messages", 1)
    await assert_healthy(target)


# Search queries that would be syntax to a full-text engine (FTS5's quotes, NEAR, column filters, operators,
# prefixes), to SQL, or that are just odd text. Each is a 200 with hits or none, never an error.
NASTY_QUERIES = [
    '"',
    '"unbalanced beavers',
    "NEAR(",
    "NEAR(beavers dams, 2)",
    "beavers OR",
    "OR AND NOT",
    "-beavers",
    "beav*",
    "*",
    "title:beavers",
    "{title body}: beavers",
    "^beavers",
    "(((",
    "beavers)",
    "'; DROP TABLE messages; --",
    "%_%",
    "\x00",
    "\x02beavers\x03",
    "💥" * 50,
    "beavers " * 25,
    "",
    "   ",
]


async def test_nasty_search_queries_never_fail(target, ledger):
    player = await target.player()
    await player.ask("Where do beavers build dams?", "search-1")
    attempts = 0
    for q in NASTY_QUERIES:
        response = await player.http.get("/api/search", params={"q": q})
        assert response.status_code == 200, (q, response.status_code, response.text[:300])
        assert all(hit["message_id"] or hit["title"] for hit in response.json()["items"])
        attempts += 1
    # Punctuation is not syntax: the words around it are still searched for.
    for q in ('"beavers', "beavers)", "^beavers", "\x02beavers\x03", "(beavers"):
        hits = (await player.http.get("/api/search", params={"q": q})).json()["items"]
        assert [hit["role"] for hit in hits if hit["message_id"]] == ["user"], q
    for params in (
        {"q": "x" * 201},
        {"q": "beavers", "limit": 0},
        {"q": "beavers", "limit": "lots"},
        {"q": "beavers", "cursor": "junk"},
        {"q": "beavers", "cursor": "eyJvZmZzZXQiOiAxZTk5fQ"},  # {"offset": 1e99}
        {"q": "beavers", "cursor": "x" * 600},
        {},
    ):
        response = await player.http.get("/api/search", params=params)
        assert_refused(response, params)
        attempts += 1
    ledger.attempt(target.path, "search queries", attempts)
    await assert_healthy(target)
