"""A chat turn's limits and the upstream policy: light, for the functions that only read answers (stop, resume)."""

from __future__ import annotations

from parley.config import Settings
from parley.core.chat.request import ChatLimits
from parley.core.chat.upstream import UpstreamPolicy


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
