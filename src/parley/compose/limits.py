"""Limits: a user's request budget, a chat turn's limits and the upstream policy. Light, for the functions that only
read answers or stop them."""

from __future__ import annotations

from parley.config import Settings
from parley.core.chat.request import ChatLimits
from parley.core.chat.upstream import UpstreamPolicy
from parley.core.rate_limit import RateLimiter
from parley.core.store.base import Stores


def build_limits(settings: Settings) -> ChatLimits:
    return ChatLimits(
        max_prompt_chars=settings.max_prompt_chars,
        context_budget_tokens=settings.context_budget_tokens,
        save_interval_seconds=settings.save_interval_seconds,
        title_max_chars=settings.title_max_chars,
        max_generations_per_user=settings.max_generations_per_user,
    )


def build_upstream_policy(settings: Settings) -> UpstreamPolicy:
    return UpstreamPolicy(
        retries=settings.provider_retries,
        base_delay=settings.retry_base_delay,
        first_chunk_timeout=settings.first_token_timeout,
        idle_timeout=settings.token_idle_timeout,
    )


def build_rate_limit(settings: Settings, stores: Stores) -> RateLimiter:
    """Every edge counts a user's requests against the same budget, kept in the store."""
    return RateLimiter(stores.request_rate, settings.requests_per_minute)


def build_share_rate_limit(settings: Settings, stores: Stores) -> RateLimiter:
    """The public share route's budget, per client address: a link is unguessable, but scraping is still bounded."""
    return RateLimiter(stores.request_rate, settings.share_views_per_minute)
