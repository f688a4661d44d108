"""Calling a provider safely: retries before the first chunk only, and a timeout on every wait for a chunk."""

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
            idle = IdleWatch(policy.idle_timeout)
            try:
                while True:
                    idle.waiting()
                    try:
                        chunk = await anext(stream)
                    except StopAsyncIteration:
                        return
                    except asyncio.CancelledError:
                        if idle.expired():
                            raise ProviderTimeout("The model stopped answering mid-way.") from None
                        raise
                    idle.got_one()
                    yield chunk
            finally:
                idle.close()


class IdleWatch:
    """The longest wait for the next chunk, with one timer per ``seconds`` rather than one per chunk.

    A deadline per chunk (``asyncio.timeout``) costs a timer and a context for every token, a few percent of
    the event loop when many answers stream. Here a chunk only notes the time; the timer, when it fires,
    cancels the reading task if it has waited ``seconds`` since its last chunk, else sets itself again for
    when that wait would be up. The task must call ``expired()`` when cancelled to tell this from any other
    cancellation."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._since: float | None = None  # when the current wait began; None while not waiting
        self._fired = False
        self._timer: asyncio.TimerHandle | None = None

    def waiting(self) -> None:
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self._seconds, self._check)

    def got_one(self) -> None:
        self._since = None

    def expired(self) -> bool:
        """Whether the cancellation the task just received was this watch's (which it then takes back)."""
        if not self._fired or self._task is None:
            return False
        self._fired = False
        return self._task.uncancel() == 0  # else someone else cancelled the task too: that one wins

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if self._since is None:  # between chunks: the wait has not begun, check again a full wait later
            self._timer = self._loop.call_at(self._loop.time() + self._seconds, self._check)
        elif self._loop.time() >= self._since + self._seconds:
            if self._task is not None:
                self._fired = True
                self._task.cancel()
        else:
            self._timer = self._loop.call_at(self._since + self._seconds, self._check)
