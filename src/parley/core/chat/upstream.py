"""Calling a provider safely: retries before the first chunk only, and timeouts on every chunk."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from parley.core.providers.base import ChatMessage, Chunk, GenerationParams, Provider
from parley.errors import ProviderError, ProviderRateLimited, ProviderTimeout

log = logging.getLogger(__name__)

_MAX_RETRY_WAIT = 10.0


@dataclass(frozen=True)
class UpstreamPolicy:
    retries: int = 3
    base_delay: float = 0.5
    first_chunk_timeout: float = 120.0
    idle_timeout: float = 60.0

    def delay(self, attempt: int, error: ProviderError) -> float:
        if isinstance(error, ProviderRateLimited) and error.retry_after is not None:
            return min(error.retry_after, _MAX_RETRY_WAIT)
        backoff: float = self.base_delay * (2**attempt)
        return min(backoff * (0.75 + random.random() / 2), _MAX_RETRY_WAIT)  # noqa: S311 - jitter, not crypto


async def stream_with_policy(
    provider: Provider,
    model: str,
    messages: Sequence[ChatMessage],
    params: GenerationParams,
    policy: UpstreamPolicy,
) -> AsyncGenerator[Chunk, None]:
    """Yield the provider's chunks. Retryable failures before the first chunk are retried with backoff;
    once a chunk has been yielded, nothing is retried (the user has seen it)."""
    attempt = 0
    while True:
        stream = provider.stream(model, messages, params)
        async with aclosing(stream):
            try:
                async with asyncio.timeout(policy.first_chunk_timeout):
                    first = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ProviderTimeout("The model did not start answering in time.") from None
            except ProviderError as error:
                if not error.retryable or attempt >= policy.retries:
                    raise
                wait = policy.delay(attempt, error)
                attempt += 1
                log.warning("provider failed before answering (%s); retry %d in %.2f s", error.code, attempt, wait)
                await asyncio.sleep(wait)
                continue
            yield first
            while True:
                try:
                    async with asyncio.timeout(policy.idle_timeout):
                        chunk = await anext(stream)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderTimeout("The model stopped answering mid-way.") from None
                yield chunk
