"""4. Login throughput: saturated logins per second against the ceiling of cores / H, where H is one
argon2id verify at the configured parameters measured in this run; and whether streams keep their
token pace while logins saturate the server.

The streams are judged as in benchmark 2 (``bench.pace``): once with no logins as the baseline, then
while the login workers run. All logins are correct passwords (failures would be throttled).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import time
from collections.abc import Awaitable, Callable

from argon2 import PasswordHasher, Type

from bench.clients import ParleyClient, SocketPool, http_client, upstream_prompt, ws_prompt
from bench.harness import Benchmark, Context
from bench.load import closed_loop
from bench.pace import Level, run_level
from bench.results import Figure, Report
from bench.services import PASSWORD, fake_upstream, parley_server, stream_users
from bench.stats import ratio
from parley.config import Settings

VERIFY_SAMPLES = 15
LOGIN_WORKERS = 8  # concurrent clients logging in, each as its own user
WARM_UP_SECONDS, ALONE_SECONDS = 1.0, 5.0
LOGIN_SECONDS = 12.0  # in all: warm-up, logins alone, then logins with the streams (about 3.5 s)
LOGIN_LIMIT = 5000  # per worker; time ends the loop long before
STREAMS = 20
ANSWER_TOKENS = 100
PROMPT = "Tell me a story."
AIM_CEILING = 0.8


def _hasher() -> tuple[PasswordHasher, str]:
    """An argon2id hasher with the parameters Parley is configured with, and a hash to verify."""
    params = Settings.from_env(env={}).argon2
    hasher = PasswordHasher(
        time_cost=params.time_cost, memory_cost=params.memory_kib, parallelism=params.parallelism, type=Type.ID
    )
    return hasher, hasher.hash(PASSWORD)


def _verify_many(count: int) -> float:
    """Seconds for ``count`` verifies, one after another (runs in a worker thread)."""
    hasher, hashed = _hasher()
    started = time.perf_counter()
    for _ in range(count):
        hasher.verify(hashed, PASSWORD)
    return time.perf_counter() - started


async def verify_seconds() -> float:
    """H: the median time of one argon2id verify at the configured parameters."""
    return statistics.median([await asyncio.to_thread(_verify_many, 1) for _ in range(VERIFY_SAMPLES)])


async def parallel_verifies_per_second(threads: int) -> float:
    """What the machine gives right now: verifies per second with ``threads`` threads verifying at once."""
    started = time.perf_counter()
    await asyncio.gather(*(asyncio.to_thread(_verify_many, VERIFY_SAMPLES) for _ in range(threads)))
    return threads * VERIFY_SAMPLES / (time.perf_counter() - started)


async def run(ctx: Context, report: Report) -> None:
    verify = await verify_seconds()
    cores = os.cpu_count() or 1
    ceiling = cores / verify
    bare = await parallel_verifies_per_second(cores)
    login_users = [f"login{i}" for i in range(LOGIN_WORKERS)]
    streamers = stream_users("streamer", STREAMS)
    async with (
        fake_upstream(ctx.logs, tokens=ANSWER_TOKENS) as upstream,
        parley_server(ctx.logs, ctx.data_dir("parley"), upstream, users=[*login_users, *streamers]) as server,
        http_client() as http,
    ):
        parley = ParleyClient(http, server.base_url)
        tokens = itertools.cycle(await asyncio.gather(*(parley.login(name) for name in streamers)))
        async with SocketPool(lambda: parley.connect(next(tokens))) as pool:
            sockets = await pool.grow(STREAMS)

            async def streams() -> Level:
                return await run_level(
                    STREAMS,
                    lambda i: ws_prompt(sockets[i], PROMPT),
                    lambda _i: upstream_prompt(http, upstream.base_url, PROMPT),
                    ANSWER_TOKENS,
                    rng=ctx.rng,
                    server=server.service,
                )

            quiet = await streams()
            print(f"    without logins: {quiet.describe()}", flush=True)
            logins, logins_with_streams, busy = await _saturate(parley, login_users, streams)
            print(f"    during logins:  {busy.describe()}", flush=True)
    report.data["logins_per_second_during_streams"] = logins_with_streams
    _judge(report, verify=verify, cores=cores, ceiling=ceiling, logins_per_second=logins, quiet=quiet, busy=busy)
    report.add(
        Figure(
            f"bare argon2id verifies per second on {cores} threads",
            bare,
            "/s",
            "ceiling cores / H",
            ceiling,
            ratio(bare, ceiling),
            detail="what this machine gave at that moment: the most logins could reach",
        )
    )


async def _saturate(
    parley: ParleyClient, users: list[str], streams: Callable[[], Awaitable[Level]]
) -> tuple[float, float, Level]:
    """Login workers back to back: logins alone first (their rate is the figure), then the streams run while
    the logins go on. Returns logins/s alone, logins/s during the streams, and the streams' level."""
    finished: list[float] = []

    async def login(worker: int) -> None:
        await parley.login(users[worker])
        finished.append(time.perf_counter())

    started = time.perf_counter()
    workers = asyncio.create_task(closed_loop(len(users), LOGIN_LIMIT, LOGIN_SECONDS, login))
    await asyncio.sleep(WARM_UP_SECONDS + ALONE_SECONDS)
    streams_started = time.perf_counter()
    busy = await streams()
    streams_ended = time.perf_counter()
    await workers

    def rate(begin: float, end: float) -> float:
        return sum(begin <= t < end for t in finished) / (end - begin)

    alone = rate(started + WARM_UP_SECONDS, streams_started)
    return alone, rate(streams_started, streams_ended), busy


def _judge(
    report: Report, *, verify: float, cores: int, ceiling: float, logins_per_second: float, quiet: Level, busy: Level
) -> None:
    report.data |= {
        "argon2id_verify_ms": verify * 1000,
        "cores": cores,
        "ceiling_logins_per_second": ceiling,
        "logins_per_second": logins_per_second,
        "streams_without_logins": quiet.to_dict(),
        "streams_during_logins": busy.to_dict(),
    }
    report.add(
        Figure.judged(
            "saturated logins per second",
            logins_per_second,
            "/s",
            baseline_label="ceiling cores / H",
            baseline=ceiling,
            ratio=ratio(logins_per_second, ceiling),
            aim=f"≥ {AIM_CEILING}x ceiling",
            met=ratio(logins_per_second, ceiling) >= AIM_CEILING,
            detail=f"H = {verify * 1000:.1f} ms, {cores} cores",
        )
    )
    report.add(
        Figure.judged(
            f"p99 extra token gap of {STREAMS} streams during logins",
            busy.extra_gap_ms,
            "ms",
            baseline_label="without logins",
            baseline=quiet.extra_gap_ms,
            ratio=ratio(busy.extra_gap_ms, quiet.extra_gap_ms),
            aim="streams keep pace",
            met=busy.kept_pace,
            detail=f"delivery {busy.delivery:.3f} (without logins {quiet.delivery:.3f})",
        )
    )
    report.note(
        f"{LOGIN_WORKERS} clients log in back to back; the rate is counted over {ALONE_SECONDS:.0f} s of logins "
        f"alone, then {STREAMS} streams of {ANSWER_TOKENS} tokens run while the logins go on "
        f"({report.data['logins_per_second_during_streams']:.0f} logins/s meanwhile). Keeping pace: p99 gap "
        "≤ 20 ms over the upstream's (probes straight to it) and delivery ≥ 99%."
    )


BENCHMARK = Benchmark(4, "logins", "Login throughput", run, budget_seconds=120)
