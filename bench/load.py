"""Load shapes. Every one is bounded twice: in how many requests it makes and in how long it runs."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bench.clients import STREAM_TIMEOUT

T = TypeVar("T")


async def closed_loop(
    workers: int,
    per_worker: int,
    seconds: float,
    step: Callable[[int], Awaitable[T]],
    *,
    pause: float = 0.0,
    rng: random.Random | None = None,
) -> list[T]:
    """``workers`` users, each asking again once its previous answer is done (after a random pause of up to
    ``pause`` seconds, so they drift apart), until it has asked ``per_worker`` times or ``seconds`` have passed."""
    rng = rng or random.Random(0)  # noqa: S311 - pacing, not crypto
    deadline = time.monotonic() + seconds
    results: list[T] = []

    async def worker(index: int) -> None:
        for _ in range(per_worker):
            if time.monotonic() >= deadline:
                return
            results.append(await step(index))
            if pause:
                await asyncio.sleep(rng.uniform(0, pause))

    async with asyncio.timeout(seconds + STREAM_TIMEOUT):
        await asyncio.gather(*(worker(i) for i in range(workers)))
    return results


async def staggered(
    count: int, spread: float, start: Callable[[int], Awaitable[T]], *, rng: random.Random, max_seconds: float
) -> list[T]:
    """``count`` tasks, each starting at a random moment within ``spread`` seconds, as unsynchronised users do."""

    async def delayed(index: int, delay: float) -> T:
        await asyncio.sleep(delay)
        return await start(index)

    async with asyncio.timeout(spread + max_seconds):
        return await asyncio.gather(*(delayed(i, rng.uniform(0, spread)) for i in range(count)))


def timed(request: Callable[[int], Awaitable[object]]) -> Callable[[int], Awaitable[float]]:
    """The operation ``request``, returning how many seconds it took."""

    async def operation(index: int) -> float:
        started = time.perf_counter()
        await request(index)
        return time.perf_counter() - started

    return operation


async def sampled(operation: Callable[[int], Awaitable[float]], count: int, seconds: float) -> list[float]:
    """``operation(i)``'s measurements, one call at a time, ``count`` calls or ``seconds``, whichever ends first."""
    deadline = time.monotonic() + seconds
    taken: list[float] = []
    async with asyncio.timeout(seconds + STREAM_TIMEOUT):
        for index in range(count):
            if time.monotonic() >= deadline:
                break
            taken.append(await operation(index))
    return taken
