"""Prometheus metrics for ``parley serve``: HTTP requests, model runs under way, time to first token, tokens and
provider errors, by model. Served at ``/metrics`` only when ``PARLEY_METRICS_TOKEN`` is set, to scrapers that send
it as a bearer token: the figures name models and routes, which are nobody else's business.

Each app has its own registry (no process-wide default), so tests and embedded servers never share counters.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley import errors

# Latency buckets for a streamed answer's first token and an HTTP request (seconds).
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _provider_error_codes() -> frozenset[str]:
    codes: set[str] = set()
    pending: list[type[errors.ParleyError]] = [errors.ProviderError]
    while pending:
        error = pending.pop()
        codes.add(error.code)
        pending.extend(error.__subclasses__())
    return frozenset(codes)


class ServerMetrics:
    """The server's metrics; also the core's run observer (``core.chat.observer.RunObserver``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "parley_http_requests", "HTTP requests answered", ("method", "route", "status"), registry=registry
        )
        self.request_seconds = Histogram(
            "parley_http_request_duration_seconds",
            "Time to answer an HTTP request (a streamed answer: until its last event)",
            ("method", "route"),
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self.active_runs = Gauge("parley_active_runs", "Model runs under way", ("model",), registry=registry)
        self.runs = Counter("parley_runs", "Model runs ended, by how", ("model", "outcome"), registry=registry)
        self.first_token_seconds = Histogram(
            "parley_time_to_first_token_seconds",
            "Time from a run's start to its first text",
            ("model",),
            buckets=_TTFT_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "parley_tokens", "Tokens, as the provider counted them", ("model", "kind"), registry=registry
        )
        self.provider_errors = Counter(
            "parley_provider_errors", "Runs that ended with a provider error", ("model", "code"), registry=registry
        )
        self.provider_codes = _provider_error_codes()

    def run_started(self, model: str) -> _RunMetrics:
        self.active_runs.labels(model).inc()
        return _RunMetrics(self, model)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _RunMetrics:
    def __init__(self, metrics: ServerMetrics, model: str) -> None:
        self._metrics = metrics
        self._model = model

    def first_token(self, seconds: float) -> None:
        self._metrics.first_token_seconds.labels(self._model).observe(seconds)

    def ended(self, *, seconds: float, prompt_tokens: int | None, completion_tokens: int | None, outcome: str) -> None:
        metrics, model = self._metrics, self._model
        metrics.active_runs.labels(model).dec()
        metrics.runs.labels(model, outcome).inc()
        if prompt_tokens:
            metrics.tokens.labels(model, "prompt").inc(prompt_tokens)
        if completion_tokens:
            metrics.tokens.labels(model, "completion").inc(completion_tokens)
        if outcome in metrics.provider_codes:
            metrics.provider_errors.labels(model, outcome).inc()


class RequestMetricsMiddleware:
    """Counts and times every HTTP request by its route's template (``/api/conversations/{conversation_id}``),
    never by its raw path, so ids do not become labels."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500  # what the client gets if the app fails before answering

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.request_seconds.labels(method, template).observe(time.monotonic() - started)


def install(app: FastAPI, metrics: ServerMetrics, token: str) -> None:
    """Serve ``/metrics`` to whoever sends ``token`` as a bearer token, and count every request."""
    router = APIRouter()
    expected = f"Bearer {token}".encode()

    @router.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(authorization: Annotated[str | None, Header()] = None) -> Response:
        if not hmac.compare_digest((authorization or "").encode(), expected):
            raise errors.AuthError("The metrics token is missing or wrong.")
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    app.include_router(router)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
