"""Serving an ASGI app with uvicorn inside an event loop that is already running (emulations, tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from parley.config import Settings
from parley.server.uvicorn_config import uvicorn_config


@asynccontextmanager
async def serving(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, settings: Settings | None = None
) -> AsyncIterator[int]:
    """Serve ``app`` until the block ends; yields the port it listens on (``port=0`` picks a free one).

    The server holds clients to the limits of ``settings`` (the defaults if none are given), as ``parley serve``.
    """
    config = uvicorn_config(app, settings or Settings(), host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: raise why
        await asyncio.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await task
