"""The uvicorn configuration of every Parley server, ``parley serve`` and the embedded ones (the serverless
emulation, tests), so all of them hold clients to the same limits."""

from __future__ import annotations

from typing import Any

import uvicorn

from parley.config import Settings
from parley.server.http_protocol import bounded_http_protocol
from parley.server.uploads import is_upload

# An idle keep-alive connection is closed after this many seconds (uvicorn's default, stated here).
KEEP_ALIVE_SECONDS = 5


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """A config for ``app`` with Parley's limits; ``options`` (host, port, logging...) go to uvicorn as they are.

    No ``limit_concurrency``: it answers 503 to everyone once that many connections are open, which would
    hand a connection flood the outage it wants. Slow clients are cut off by the read deadline instead, and
    what each one may buffer is bounded by the head and body limits.
    """
    return uvicorn.Config(
        app,
        http=bounded_http_protocol(settings.request_read_timeout, long_body=is_upload),
        ws_max_size=settings.max_body_bytes,  # a WebSocket message is held to the same limit as a body
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
        **options,
    )
