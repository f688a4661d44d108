"""``/metrics``: off unless a token is configured, only for scrapers that send it, and figures that follow what
the server did: requests by route template, runs by model and outcome, time to first token, tokens, provider
errors, and runs under way."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from parley.config import Settings
from parley.core.providers.registry import ModelRegistry
from parley.errors import ProviderUnavailable
from parley.runtime import Runtime, open_runtime
from parley.server.app import create_app
from parley.server.metrics import ServerMetrics
from parley.testing.mock_provider import MockProvider, Reply
from tests.conftest import PASSWORD

METRICS_TOKEN = "scrape-me-please-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(metrics_token=METRICS_TOKEN, retry_base_delay=0.001, provider_retries=0)


@pytest.fixture
def metrics() -> ServerMetrics:
    return ServerMetrics()


@pytest.fixture
async def runtime(settings: Settings, provider: MockProvider, metrics: ServerMetrics) -> AsyncIterator[Runtime]:
    registry = ModelRegistry()
    registry.add_provider(provider, await provider.list_models())
    async with open_runtime(settings, models=registry, observer=metrics) as opened:
        yield opened


@pytest.fixture
async def client(settings: Settings, runtime: Runtime, metrics: ServerMetrics) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime, metrics=metrics)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        yield http


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def login(runtime: Runtime, client: httpx.AsyncClient) -> dict[str, str]:
    await runtime.auth.create_user("mia", PASSWORD)
    token = (await client.post("/api/login", json={"username": "mia", "password": PASSWORD})).json()["token"]
    return {"Authorization": f"Bearer {token}"}


async def test_metrics_are_not_served_without_a_token_configured(tmp_path, runtime):
    app = create_app(Settings(data_dir=tmp_path / "other"), runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        # Nothing answers it but the web app's fallback for deep links (its page, when the app is built).
        assert response.status_code in (200, 404)
        assert "parley_" not in response.text and not response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {METRICS_TOKEN}", METRICS_TOKEN])
async def test_metrics_need_the_token(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "parley_" not in response.text


async def test_figures_follow_answers_requests_and_errors(client, runtime, provider):
    headers = await login(runtime, client)
    provider.enqueue(Reply(tokens=("one", " two", " three")))
    answer = (await client.post("/api/chat", json={"prompt": "count"}, headers=headers)).json()
    assert answer["bot"] == "one two three"
    conversation = answer["conversation_id"]
    assert (await client.get(f"/api/conversations/{conversation}", headers=headers)).status_code == 200
    provider.enqueue(Reply(tokens=(), error=ProviderUnavailable()))
    await client.post("/api/chat", json={"prompt": "fail", "conversation_id": conversation}, headers=headers)

    samples = await scrape(client)
    model = 'model="mock-model"'
    assert samples[f'parley_runs_total{{{model},outcome="complete"}}'] == 1
    assert samples[f'parley_runs_total{{{model},outcome="provider_unavailable"}}'] == 1
    assert samples[f'parley_provider_errors_total{{code="provider_unavailable",{model}}}'] == 1
    assert samples[f'parley_tokens_total{{kind="completion",{model}}}'] == 3
    assert samples[f'parley_tokens_total{{kind="prompt",{model}}}'] > 0
    assert samples[f"parley_time_to_first_token_seconds_count{{{model}}}"] == 1  # the failed run had no text
    assert samples[f"parley_active_runs{{{model}}}"] == 0
    # Requests are labelled by their route's template: ids never become labels.
    route = 'route="/api/conversations/{conversation_id}"'
    assert samples[f'parley_http_requests_total{{method="GET",{route},status="200"}}'] == 1
    assert samples['parley_http_requests_total{method="POST",route="/api/chat",status="200"}'] == 1
    assert not any(conversation in name for name in samples)


async def test_a_run_under_way_is_counted_until_it_ends(client, runtime, provider):
    headers = await login(runtime, client)
    provider.enqueue(Reply(tokens=("slow",) * 20, delay=0.05))
    asking = asyncio.create_task(client.post("/api/chat", json={"prompt": "take your time"}, headers=headers))
    for _ in range(100):
        if (await scrape(client)).get('parley_active_runs{model="mock-model"}') == 1:
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the run under way was never counted")
    await asking
    assert (await scrape(client))['parley_active_runs{model="mock-model"}'] == 0


def test_json_logs_are_one_object_a_line_with_secrets_redacted(capsys):
    import json
    import logging
    import logging.config

    from parley.server.log_setup import log_config

    logging.config.dictConfig(log_config("INFO", "json"))
    try:
        logging.getLogger("parley.test").warning("opened /ws?ticket=abc123 for %s", "mia")
        [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        entry = json.loads(line)
        assert entry["level"] == "WARNING" and entry["logger"] == "parley.test"
        assert entry["message"] == "opened /ws?ticket=[redacted] for mia"
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", entry["time"])
    finally:
        logging.config.dictConfig(log_config("INFO"))
