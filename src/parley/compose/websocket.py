"""The one WebSocket policy both edges admit connections and serve messages under."""

from __future__ import annotations

from parley.compose.limits import build_rate_limit
from parley.config import Settings
from parley.core.auth.sessions import SessionCheck
from parley.core.rate_limit import RateLimiter
from parley.core.store.base import Stores
from parley.ws_dispatch import WebSocketPolicy


def build_ws_policy(settings: Settings, stores: Stores, rate_limit: RateLimiter | None = None) -> WebSocketPolicy:
    """Both edges admit WebSocket connections and serve their messages under this one policy."""
    return WebSocketPolicy(
        sessions=SessionCheck(stores),
        rate_limit=rate_limit or build_rate_limit(settings, stores),
        allowed_origins=settings.allowed_origins,
        max_sockets_per_user=settings.max_sockets_per_user,
    )
