"""The OpenAI-compatible API on its own: the ``/v1`` routes and nothing else, for the serverless path's streaming
function (a Lambda function URL in front of which CloudFront sends ``/v1/*``; see ``aws/functions/openai_api.py``).

A function URL answers anyone who finds it, so when CloudFront's origin secret is configured every request must
carry it (``X-Parley-Origin-Secret``, added by the distribution): a client cannot go around CloudFront.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from parley import __version__
from parley.config import Settings
from parley.runtime import Runtime, build_rate_limit, open_runtime
from parley.server.cloudfront import SECRET_HEADER
from parley.server.errors import install_error_handlers
from parley.server.middleware.body_limit import BodyLimitMiddleware
from parley.server.middleware.security_headers import SecurityHeadersMiddleware
from parley.server.openai_errors import openai_error_response
from parley.server.routes import openai_api

# What the Lambda Web Adapter polls before it hands the function its first request.
READINESS_PATH = "/v1/ready"


def create_openai_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The ``/v1`` app; it opens its own runtime at start-up unless one is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            yield
            return
        async with open_runtime(settings) as opened:
            _attach(app, settings, opened)
            yield

    app = FastAPI(title="Parley OpenAI-compatible API", version=__version__, lifespan=lifespan, docs_url=None)
    if runtime is not None:
        _attach(app, settings, runtime)
    app.include_router(openai_api.router)

    @app.get(READINESS_PATH, include_in_schema=False)
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    install_error_handlers(app)
    if settings.cloudfront_secret:
        app.add_middleware(OriginSecretMiddleware, secret=settings.cloudfront_secret)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        route_limits=[(openai_api.is_completion, settings.max_completion_bytes)],
    )
    return app


def _attach(app: FastAPI, settings: Settings, runtime: Runtime) -> None:
    app.state.runtime = runtime
    app.state.rate_limit = build_rate_limit(settings, runtime.stores)


class OriginSecretMiddleware:
    """Refuse every request that does not prove it came through CloudFront (the readiness probe is local)."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self._secret = secret.encode()
        self._header = SECRET_HEADER.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] != READINESS_PATH:
            offered = next((value for name, value in scope["headers"] if name == self._header), b"")
            if not hmac.compare_digest(offered, self._secret):
                response = openai_error_response(403, "Use this API through the site's address.", "forbidden")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
