"""OpenTelemetry traces: none unless an exporter is configured; when one is, a span for each request named for its
route, and a span for each model run under the request that started it, exported over OTLP/HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from parley.config import Settings
from parley.core.providers.registry import ModelRegistry
from parley.runtime import open_runtime
from parley.server.app import create_app
from parley.server.tracing import Tracing, tracing_from_env
from parley.testing.mock_provider import MockProvider, Reply
from tests.conftest import PASSWORD


async def ask_one_question(settings: Settings, provider: MockProvider, tracing: Tracing) -> None:
    registry = ModelRegistry()
    registry.add_provider(provider, await provider.list_models())
    async with open_runtime(settings, models=registry, observer=tracing) as runtime:
        app = create_app(settings, runtime, tracing=tracing)
        await runtime.auth.create_user("tess", PASSWORD)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
            token = (await http.post("/api/login", json={"username": "tess", "password": PASSWORD})).json()["token"]
            provider.enqueue(Reply(tokens=("traced", " answer")))
            answer = await http.post("/api/chat", json={"prompt": "hi"}, headers={"Authorization": f"Bearer {token}"})
            assert answer.json()["bot"] == "traced answer"
    tracing.provider.force_flush()


def test_no_tracing_unless_an_exporter_is_configured():
    assert tracing_from_env({}) is None
    assert tracing_from_env({"OTEL_SERVICE_NAME": "parley"}) is None


async def test_a_model_run_is_a_span_under_the_request_that_started_it(settings, provider):
    exporter = InMemorySpanExporter()
    tracing = tracing_from_env({}, exporter=exporter)
    assert tracing is not None
    await ask_one_question(settings, provider, tracing)

    spans = {span.name: span for span in exporter.get_finished_spans()}
    request, run = spans["POST /api/chat"], spans["chat mock-model"]
    assert request.attributes["http.route"] == "/api/chat"
    assert request.attributes["http.response.status_code"] == 200
    assert run.parent is not None and run.parent.span_id == request.context.span_id
    assert run.attributes["parley.run.outcome"] == "complete"
    assert run.attributes["gen_ai.usage.output_tokens"] == 2
    assert run.attributes["parley.run.time_to_first_token_s"] >= 0
    assert "POST /api/login" in spans


@pytest.fixture
def collector() -> Iterator[list[tuple[str, str, bytes]]]:
    """A stand-in OpenTelemetry collector on loopback that keeps what it is sent."""
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received_at = f"http://127.0.0.1:{server.server_address[1]}"
    received.append(("endpoint", received_at, b""))
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


async def test_spans_reach_a_configured_otlp_endpoint(settings, provider, collector, monkeypatch):
    _, endpoint, _ = collector.pop(0)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    tracing = tracing_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_SERVICE_NAME": "parley-test"})
    assert tracing is not None
    await ask_one_question(settings, provider, tracing)
    tracing.shutdown()

    assert collector, "nothing was exported"
    assert {(path, content_type) for path, content_type, _ in collector} == {("/v1/traces", "application/x-protobuf")}
    sent = b"".join(body for _, _, body in collector)
    for expected in (b"parley-test", b"POST /api/chat", b"chat mock-model", b"gen_ai.usage.output_tokens"):
        assert expected in sent
