"""The OpenAI-compatible endpoint, driven by the official ``openai`` SDK against a real server on loopback.

The local half runs the app over the scripted mock provider; ``test_*_on_aws_local`` drive the serverless path's
emulation (its streaming function URL, the emulated DynamoDB) over the fake OpenAI upstream.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from parley.core.rate_limit import MemoryRequestRateStore, RateLimiter
from parley.server.app import create_app
from parley.server.embedded import serving
from parley.testing.mock_provider import Reply
from tests.conftest import PASSWORD


@pytest.fixture
async def key(client, alice):
    """A key of alice's, made through the web app's route."""
    response = await client.post("/api/keys", json={"name": "script"}, headers=alice.headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
async def sdk(live_server):
    clients = []

    def make(api_key: str) -> openai.AsyncOpenAI:
        made = openai.AsyncOpenAI(base_url=f"{live_server.base_url}/v1", api_key=api_key, max_retries=0, timeout=10)
        clients.append(made)
        return made

    yield make
    for made in clients:
        await made.close()


async def test_a_completion_with_usage(sdk, key, provider):
    provider.enqueue(Reply(tokens=("Hi", " Alice", ".")))
    completion = await sdk(key["key"]).chat.completions.create(
        model="mock-model",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]},
        ],
        temperature=0.2,
        max_completion_tokens=50,
        user="ignored-as-openai-does",
    )
    assert completion.object == "chat.completion" and completion.model == "mock-model"
    assert completion.choices[0].message.content == "Hi Alice."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 3 and completion.usage.total_tokens > 3
    call = provider.history[-1]
    assert [(m.role, m.content) for m in call.messages] == [("system", "Be brief."), ("user", "Hello there")]
    assert (call.params.temperature, call.params.max_tokens) == (0.2, 50)


async def test_streaming_chunks_and_usage(sdk, key, provider):
    provider.enqueue(Reply(tokens=("One", " two", " three")))
    stream = await sdk(key["key"]).chat.completions.create(
        model="mock-model",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "One two three"
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in with_choices[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3
    assert len({chunk.id for chunk in chunks}) == 1


async def test_streaming_without_usage_ends_with_done(live_server, key, provider):
    provider.enqueue(Reply(tokens=("a", "b")))
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        response = await http.post(
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {key['key']}"},
            json={"model": "mock-model", "messages": [{"role": "user", "content": "x"}], "stream": True},
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    assert '"usage"' not in response.text


async def test_stop_sequences_cut_the_answer(sdk, key, provider):
    provider.enqueue(Reply(tokens=("one, tw", "o, thr", "ee")))
    completion = await sdk(key["key"]).chat.completions.create(
        model="mock-model", messages=[{"role": "user", "content": "count"}], stop=[", three", "o, t"]
    )
    assert completion.choices[0].message.content == "one, tw"
    assert completion.choices[0].finish_reason == "stop"


async def test_models(sdk, key):
    models = await sdk(key["key"]).models.list()
    assert [model.id for model in models.data] == ["mock-model"]
    assert (await sdk(key["key"]).models.retrieve("mock-model")).id == "mock-model"


async def test_errors_in_openai_shape(sdk, key, live_server):
    client = sdk(key["key"])
    with pytest.raises(openai.NotFoundError) as unknown:
        await client.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as many:
        await client.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "x"}], n=2)
    assert many.value.body["param"] == "n"
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="mock-model", messages=[{"role": "user", "content": "x"}], temperature=9
        )
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="mock-model",
            messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}],
        )
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        response = await http.post(
            "/v1/chat/completions", headers={"Authorization": f"Bearer {key['key']}"}, json={"model": "mock-model"}
        )
        assert response.status_code == 400  # not FastAPI's 422
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["param"] == "messages"
        missing = await http.get("/v1/nothing-here", headers={"Authorization": f"Bearer {key['key']}"})
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"


async def test_bad_keys_are_refused(sdk, key):
    body = {"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}
    typo = key["key"][:-1] + ("A" if key["key"][-1] != "A" else "B")
    for wrong in ("", "sk-openai-style", typo, "parley_" + "0" * 49):
        with pytest.raises(openai.AuthenticationError) as refused:
            await sdk(wrong or "x").chat.completions.create(**body)
        assert refused.value.code == "invalid_api_key"


async def test_a_revoked_key_is_refused_within_a_second(sdk, key, client, alice):
    client_sdk = sdk(key["key"])
    await client_sdk.models.list()
    assert (await client.delete(f"/api/keys/{key['id']}", headers=alice.headers)).status_code == 204
    revoked_at = time.monotonic()
    with pytest.raises(openai.AuthenticationError) as refused:
        await client_sdk.models.list()
    assert time.monotonic() - revoked_at < 1.0
    assert "revoked" in refused.value.message


async def test_a_disabled_users_key_is_refused(sdk, key, runtime):
    await runtime.auth.set_disabled("alice", True)
    with pytest.raises(openai.AuthenticationError):
        await sdk(key["key"]).models.list()
    await runtime.auth.set_disabled("alice", False)
    assert (await sdk(key["key"]).models.list()).data


async def test_an_expired_key_is_refused(sdk, runtime, alice):
    user = await runtime.stores.users.get_user_by_name("alice")
    made = await runtime.api_keys.create(user, "soon", expires_in_days=1)
    runtime.api_keys._clock = lambda: time.time() + 86400 + 1
    with pytest.raises(openai.AuthenticationError) as refused:
        await sdk(made.text).models.list()
    assert "expired" in refused.value.message


async def test_a_session_does_not_open_v1_and_a_key_does_not_open_the_app_api(live_server, key, alice):
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        assert (await http.get("/v1/models", headers=alice.headers)).status_code == 401
        proof = {"X-Parley-CSRF": "1", "Origin": live_server.base_url}
        body = {"username": "alice", "password": PASSWORD, "cookie": True}
        login = await http.post("/api/login", json=body, headers=proof)
        assert login.status_code == 200 and http.cookies
        assert (await http.get("/api/keys", headers=proof)).status_code == 200  # the cookie works where it should
        assert (await http.get("/v1/models", headers=proof)).status_code == 401
        http.cookies.clear()
        as_key = {"Authorization": f"Bearer {key['key']}"}
        assert (await http.get("/api/conversations", headers=as_key)).status_code == 401
        assert (await http.get("/api/keys", headers=as_key)).status_code == 401


async def test_a_client_that_leaves_mid_stream_stops_the_model(sdk, key, provider):
    provider.enqueue(Reply(tokens=tuple(f"t{i} " for i in range(1000)), delay=0.02))
    closed_before = provider.closed_streams
    stream = await sdk(key["key"]).chat.completions.create(
        model="mock-model", messages=[{"role": "user", "content": "go on"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    await stream.close()
    deadline = time.monotonic() + 3
    while provider.closed_streams == closed_before:
        assert time.monotonic() < deadline, "the model kept generating for a client that left"
        await asyncio.sleep(0.02)


async def test_requests_are_saved_only_when_the_key_says_so(sdk, key, client, alice, runtime):
    await sdk(key["key"]).chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "hi"}])
    await runtime.completions.settled()
    assert (await client.get("/api/conversations", headers=alice.headers)).json()["items"] == []

    response = await client.post(
        "/api/keys", json={"name": "saving", "save_conversations": True}, headers=alice.headers
    )
    saving = response.json()
    assert saving["save_conversations"] is True
    await sdk(saving["key"]).chat.completions.create(
        model="mock-model",
        messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": "Remember this"}],
    )
    await runtime.completions.settled()
    items = (await client.get("/api/conversations", headers=alice.headers)).json()["items"]
    assert [item["title"] for item in items] == ["Remember this"]
    detail = (await client.get(f"/api/conversations/{items[0]['id']}", headers=alice.headers)).json()
    roles = [(m["role"], m["status"]) for m in detail["messages"]]
    assert roles[-2:] == [("user", "complete"), ("assistant", "complete")]


async def test_last_use_is_recorded(sdk, key, client, alice, runtime):
    listed = (await client.get("/api/keys", headers=alice.headers)).json()["keys"]
    assert listed[0]["last_used_at"] is None and "key" not in listed[0]
    await sdk(key["key"]).models.list()
    await runtime.api_keys.aclose()
    listed = (await client.get("/api/keys", headers=alice.headers)).json()["keys"]
    assert listed[0]["last_used_at"] is not None and listed[0]["prefix"] == key["key"][:11]


async def test_the_request_rate_limit_applies(settings, runtime, key):
    app = create_app(settings, runtime)
    async with serving(app) as port:
        app.state.rate_limit = RateLimiter(MemoryRequestRateStore(), per_minute=1, burst=1)
        async with openai.AsyncOpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key=key["key"], max_retries=0
        ) as client:
            await client.models.list()
            with pytest.raises(openai.RateLimitError) as limited:
                await client.models.list()
        assert int(limited.value.response.headers["retry-after"]) >= 1


# The serverless path: the emulated CloudFront's /v1/* behaviour, to the streaming function URL.


async def cli(*args: str) -> tuple[int, str]:
    import contextlib
    import io

    from parley.cli.main import main as parley_cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = await asyncio.to_thread(parley_cli, list(args))
    return code, out.getvalue()


async def test_the_sdk_streams_through_the_aws_path(open_deployment, fake):
    async with open_deployment() as running:
        code, out = await cli("keys", "create", "laptop", "--user", "alice")
        assert code == 0
        key = out.strip()
        async with openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key=key, max_retries=0) as client:
            model = (await client.models.list()).data[0].id
            stream = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "hello"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
            assert chunks[0].choices[0].delta.role == "assistant"
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == "Hello from the fake model."
            assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
            completion = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
            assert completion.choices[0].message.content == "Hello from the fake model."
            assert completion.usage.completion_tokens > 0

            with pytest.raises(openai.NotFoundError):
                await client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
            with pytest.raises(openai.BadRequestError):
                await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}], n=3)

            assert (await cli("users", "disable", "alice"))[0] == 0
            with pytest.raises(openai.AuthenticationError):
                await client.models.list()
            assert (await cli("users", "enable", "alice"))[0] == 0
            await client.models.list()
            assert (await cli("keys", "revoke", "laptop", "--user", "alice"))[0] == 0
            revoked_at = time.monotonic()
            with pytest.raises(openai.AuthenticationError) as refused:
                await client.models.list()
            assert time.monotonic() - revoked_at < 1.0 and "revoked" in refused.value.message
        async with openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key="parley_x", max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError):
                await bad.models.list()


async def test_the_function_url_answers_only_through_cloudfront(open_deployment):
    async with open_deployment() as running:
        _, out = await cli("keys", "create", "laptop", "--user", "alice")
        async with httpx.AsyncClient() as http:
            direct = await http.get(
                f"{running.function_url}/v1/models", headers={"Authorization": f"Bearer {out.strip()}"}
            )
            assert direct.status_code == 403 and direct.json()["error"]["type"] == "invalid_request_error"
            through = await http.get(f"{running.url}/v1/models", headers={"Authorization": f"Bearer {out.strip()}"})
            assert through.status_code == 200


async def test_keys_from_the_web_app_and_saved_requests_on_the_aws_path(open_deployment):
    async with open_deployment() as running, httpx.AsyncClient(base_url=running.url) as http:
        login = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        session = {"Authorization": f"Bearer {login.json()['token']}"}
        made = await http.post("/api/keys", json={"name": "saver", "save_conversations": True}, headers=session)
        assert made.status_code == 201, made.text
        async with openai.AsyncOpenAI(base_url=f"{running.url}/v1", api_key=made.json()["key"], max_retries=0) as sdk:
            model = (await sdk.models.list()).data[0].id
            await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "Keep me"}])
        deadline = time.monotonic() + 5
        while not (items := (await http.get("/api/conversations", headers=session)).json()["items"]):
            assert time.monotonic() < deadline, "the request was not saved"
            await asyncio.sleep(0.05)
        assert items[0]["title"] == "Keep me"
        listed = (await http.get("/api/keys", headers=session)).json()["keys"]
        assert listed[0]["last_used_at"] is not None
        assert (await http.delete(f"/api/keys/{listed[0]['id']}", headers=session)).status_code == 204
        assert (await http.delete(f"/api/keys/{listed[0]['id']}", headers=session)).status_code == 404


async def test_v1_answers_count_against_the_users_usage_and_budget(sdk, key, client, alice, runtime, provider):
    """/v1 answers are metered like the app's: recorded with the key that asked, and refused once the month's
    budget is used up, in OpenAI's shape (429) with when it resets."""
    provider.enqueue(Reply(tokens=("a", "b", "c", "d")))
    await sdk(key["key"]).chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "hi"}])
    for _ in range(50):  # usage is settled just after the answer, off the response's path
        report = (await client.get("/api/usage", headers=alice.headers)).json()
        if report["totals"]["requests"]:
            break
        await asyncio.sleep(0.02)
    assert report["totals"]["completion_tokens"] == 4
    assert [(day["model"], day["requests"]) for day in report["days"]] == [("mock-model", 1)]

    await runtime.usage.set_budget("alice", 1)  # already used up
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk(key["key"]).chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "x"}])
    assert refused.value.code == "budget_exceeded" and "resets on" in refused.value.message
    assert len(provider.history) == 1  # the refused request never reached the model


async def _first_text(stream) -> None:
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            return


async def test_v1_answers_take_the_users_answer_slots_shared_with_the_app(sdk, key, client, alice, provider, settings):
    """A key holder runs at most ``max_generations_per_user`` answers at once, and those are the same slots as the
    app's: over the cap /v1 gets OpenAI's 429 and the app its own; a slot is free again when a client hangs up."""
    cap = settings.max_generations_per_user
    for _ in range(cap):
        provider.enqueue(Reply(tokens=("a", "b"), hang_after=1))
    api = sdk(key["key"])
    streams = []
    try:
        for _ in range(cap):
            stream = await api.chat.completions.create(
                model="mock-model", messages=[{"role": "user", "content": "go"}], stream=True
            )
            streams.append(stream)
            await _first_text(stream)
        with pytest.raises(openai.RateLimitError) as refused:
            await api.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "one more"}])
        assert refused.value.code == "rate_limit_exceeded" and f"{cap} answers" in refused.value.message
        app = await client.post("/api/chat", json={"prompt": "from the app"}, headers=alice.headers)
        assert app.status_code == 429 and app.json()["error"]["code"] == "too_many_generations"
        assert len(provider.history) == cap  # the refused requests never reached the model

        await streams.pop().close()  # the client hangs up: its slot is free again
        deadline = time.monotonic() + 3
        while True:
            try:
                done = await api.chat.completions.create(
                    model="mock-model", messages=[{"role": "user", "content": "now"}]
                )
                break
            except openai.RateLimitError:
                assert time.monotonic() < deadline, "the slot of a client that left was not freed"
                await asyncio.sleep(0.05)
        assert done.choices[0].finish_reason == "stop"
    finally:
        for stream in streams:
            await stream.close()


async def test_on_shutdown_v1_refuses_new_answers_and_cuts_those_past_the_grace_period(sdk, key, runtime, provider):
    provider.enqueue(Reply(tokens=("part", " of", " it"), hang_after=1))
    api = sdk(key["key"])
    stream = await api.chat.completions.create(
        model="mock-model", messages=[{"role": "user", "content": "go"}], stream=True
    )
    await _first_text(stream)
    runtime.completions.begin_shutdown(0.2)
    with pytest.raises(openai.InternalServerError) as refused:
        await api.chat.completions.create(model="mock-model", messages=[{"role": "user", "content": "late"}])
    assert refused.value.status_code == 503 and refused.value.code == "shutting_down"

    closing = asyncio.create_task(runtime.completions.aclose())
    with pytest.raises(openai.APIError) as cut:  # an error event, no [DONE]: the client knows it is cut short
        async for _ in stream:
            pass
    assert "cut short" in cut.value.message
    await asyncio.wait_for(closing, 5)
    # Settled with an estimate: nothing of its reservation (max_tokens and more) is left in the month's counter.
    await assert_nothing_reserved(runtime, "alice")


async def assert_nothing_reserved(runtime, username: str) -> None:
    """The user's counter of the month holds exactly the tokens recorded as used: no reservation is held."""
    user = await runtime.stores.users.get_user_by_name(username)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    days = await runtime.stores.usage.daily(user.id, today, today)
    recorded = sum(day.prompt_tokens + day.completion_tokens for day in days)
    assert days and recorded > 0
    assert await runtime.stores.usage.month_used(user.id, today[:7]) == recorded
