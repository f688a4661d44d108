"""2. Concurrent streams: how many simultaneous 50-token/s answers Parley keeps at the upstream's pace,
against a minimal pass-through (``bench/peers/passthrough.py``) measured the same way in the same run.

Both targets climb the same ladder of stream counts, taking turns at each level so that a noisy moment
on the shared machine is not all one target's. Every level runs with probes straight to the upstream
(see ``bench.pace``). A level that falls behind is tried once more before it counts as failed; each
boundary is then narrowed by bisection. Every Parley stream is a logged-in user's new conversation,
saved as it streams (no user has more answers at once than Parley allows). CPU-seconds per
1,000 tokens are the server process's own, compared at the largest ladder level both kept at pace.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bench.clients import ParleyClient, SocketPool, http_client, open_ws, upstream_prompt, ws_prompt
from bench.harness import Benchmark, Context
from bench.pace import Level, StreamFn, run_level
from bench.procs import Service
from bench.results import Figure, Report, Status
from bench.services import fake_upstream, parley_server, passthrough_peer, stream_users
from bench.stats import ratio

LADDER = (10, 15, 22, 33, 50, 75, 110, 165, 250, 375, 560)
REFINE_STEPS = 2
ATTEMPTS = 2  # a level counts as failed when it falls behind this many times in a row
ANSWER_TOKENS = 100  # two seconds per stream at 50 tokens/s
PROMPT = "Tell me a story."
AIM_CAPACITY, AIM_CPU = 0.7, 1.5


OpenStreams = Callable[[int], Awaitable[StreamFn]]  # made ready for N streams: the i-th stream of the level


def socket_streams(pool: SocketPool, prompt: str = PROMPT) -> OpenStreams:
    """Streams over WebSockets from ``pool`` (Parley's protocol), one socket per stream, opened on demand."""

    async def open_streams(streams: int) -> StreamFn:
        sockets = await pool.grow(streams)
        return lambda index: ws_prompt(sockets[index], prompt)

    return open_streams


@dataclass
class Target:
    """A server to stream through, its process (for CPU), how its streams are opened, and how far it has climbed."""

    name: str
    server: Service
    open_streams: OpenStreams
    levels: list[Level] = field(default_factory=list)
    capacity: int = 0  # the most streams kept at pace (0: not even the first level)
    failed_at: int | None = None  # None: kept pace to the top of the ladder

    async def keeps_pace(self, streams: int, probe: StreamFn, ctx: Context) -> bool:
        stream = await self.open_streams(streams)
        for _ in range(ATTEMPTS):
            level = await run_level(streams, stream, probe, ANSWER_TOKENS, rng=ctx.rng, server=self.server)
            self.levels.append(level)
            print(f"    {self.name}: {level.describe()}", flush=True)
            if level.kept_pace:
                return True
            await asyncio.sleep(1)  # let the last answers' saves finish before trying again
        return False

    def kept(self, streams: int) -> Level | None:
        return next((lv for lv in reversed(self.levels) if lv.streams == streams and lv.kept_pace), None)

    def capacity_text(self) -> str:
        return str(self.capacity) if self.failed_at else f"≥ {self.capacity} (top of the ladder)"


async def climb(targets: list[Target], probe: StreamFn, ctx: Context, ladder: Sequence[int] = LADDER) -> None:
    """Up the ladder, taking turns; then bisect each target's boundary."""
    for streams in ladder:
        climbing = [t for t in targets if t.failed_at is None]
        if not climbing:
            break
        for target in climbing:
            if await target.keeps_pace(streams, probe, ctx):
                target.capacity = streams
            else:
                target.failed_at = streams
    for target in targets:
        low, high = target.capacity, target.failed_at
        for _ in range(REFINE_STEPS if high is not None else 0):
            assert high is not None
            middle = (low + high) // 2
            if middle in (low, high):
                break
            low, high = (middle, high) if await target.keeps_pace(middle, probe, ctx) else (low, middle)
        target.capacity, target.failed_at = low, high


async def run(ctx: Context, report: Report) -> None:
    names = stream_users("streamer", max(LADDER))
    async with (
        fake_upstream(ctx.logs, tokens=ANSWER_TOKENS) as upstream,
        parley_server(ctx.logs, ctx.data_dir("parley"), upstream, users=names) as parley_http,
        passthrough_peer(ctx.logs, upstream) as peer,
        http_client() as http,
    ):
        parley = ParleyClient(http, parley_http.base_url)
        tokens = itertools.cycle(await asyncio.gather(*(parley.login(name) for name in names)))
        async with (
            SocketPool(lambda: parley.connect(next(tokens))) as parley_pool,
            SocketPool(lambda: open_ws(peer.ws_url)) as peer_pool,
        ):
            ours = Target("Parley", parley_http.service, socket_streams(parley_pool))
            theirs = Target("peer", peer.service, socket_streams(peer_pool))
            await climb([ours, theirs], lambda _i: upstream_prompt(http, upstream.base_url, PROMPT), ctx)
    for target in (ours, theirs):
        report.data[f"{target.name.lower()}_levels"] = [level.to_dict() for level in target.levels]
    _judge(report, ours, theirs)
    report.note(
        f"Streams of {ANSWER_TOKENS} tokens (upstream: one every 20 ms after 200 ms), started at random within "
        "1 s, with probe streams straight to the upstream as the baseline of each level. A level keeps pace when "
        "every stream completes, its p99 gap is ≤ 20 ms over the probes' and its token rate ≥ 99% of theirs."
    )


def _judge(report: Report, ours: Target, theirs: Target) -> None:
    capacity_ratio = ratio(ours.capacity, theirs.capacity)
    report.add(
        Figure.judged(
            "streams kept at pace",
            ours.capacity,
            "streams",
            baseline_label="pass-through peer",
            baseline=theirs.capacity,
            ratio=capacity_ratio,
            aim=f"≥ {AIM_CAPACITY}x peer",
            met=capacity_ratio >= AIM_CAPACITY,
            detail=f"Parley {ours.capacity_text()}, peer {theirs.capacity_text()}",
        )
    )
    common = [n for n in LADDER if ours.kept(n) and theirs.kept(n)]
    if not common:
        report.add(Figure.unavailable("CPU-s per 1,000 tokens", "no level kept pace on both", status=Status.MISSED))
        return
    streams = max(common)
    mine, peer = ours.kept(streams), theirs.kept(streams)
    assert mine is not None and peer is not None
    cpu_ratio = ratio(mine.cpu_per_1000_tokens, peer.cpu_per_1000_tokens)
    report.add(
        Figure.judged(
            f"CPU-s per 1,000 tokens at {streams} streams",
            mine.cpu_per_1000_tokens,
            "s",
            baseline_label="pass-through peer",
            baseline=peer.cpu_per_1000_tokens,
            ratio=cpu_ratio,
            aim=f"≤ {AIM_CPU}x peer",
            met=not math.isnan(cpu_ratio) and cpu_ratio <= AIM_CPU,
            detail="server process only",
        )
    )


BENCHMARK = Benchmark(2, "streams", "Concurrent streams", run, budget_seconds=300)
