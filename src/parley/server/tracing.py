"""OpenTelemetry traces, when an exporter is configured the standard way (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_SERVICE_NAME`` and the other ``OTEL_*`` variables as the SDK reads
them). Each HTTP request is a span named for its route's template, and each model run a span under the request
that started it (the run's task inherits the request's context), with its model, outcome, time to first token
and tokens.

The SDK and the OTLP exporter are the ``otel`` extra (``pip install 'parley[otel]'``); without them a configured
exporter is reported once and the server runs untraced.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class Tracing:
    """The tracer of one app; also the run observer that makes each model run a span."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("parley")

    def run_started(self, model: str) -> _RunSpan:
        # Started in the run's task, whose context is the request's: the span is the request span's child.
        return _RunSpan(self.tracer.start_span(f"chat {model}", attributes={"gen_ai.request.model": model}))

    def shutdown(self) -> None:
        self.provider.shutdown()  # flushes what is still batched


class _RunSpan:
    def __init__(self, span: Any) -> None:
        self._span = span

    def first_token(self, seconds: float) -> None:
        self._span.set_attribute("parley.run.time_to_first_token_s", seconds)

    def ended(self, *, seconds: float, prompt_tokens: int | None, completion_tokens: int | None, outcome: str) -> None:
        span = self._span
        span.set_attribute("parley.run.outcome", outcome)
        if prompt_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", prompt_tokens)
        if completion_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", completion_tokens)
        span.end()


def tracing_from_env(env: Mapping[str, str], exporter: Any = None) -> Tracing | None:
    """Tracing when an OTLP endpoint is configured (or ``exporter`` is given, in tests); else None."""
    if exporter is None and not any(env.get(name) for name in ENDPOINT_VARIABLES):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("an OpenTelemetry exporter is configured, but not installed: pip install 'parley[otel]'")
        return None
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # endpoint, headers and timeout from the OTEL_* variables
    provider = TracerProvider(resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "parley")}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)


class TracingMiddleware:
    """A server span for each HTTP request, named ``METHOD /route/{template}`` once routing has matched."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, use_span

        span = self.tracing.tracer.start_span(scope["method"], kind=SpanKind.SERVER)
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with use_span(span, end_on_exit=True):
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                template = getattr(scope.get("route"), "path", None)
                if template:
                    span.update_name(f"{scope['method']} {template}")
                    span.set_attribute("http.route", template)
                span.set_attribute("http.request.method", scope["method"])
                span.set_attribute("http.response.status_code", status)
