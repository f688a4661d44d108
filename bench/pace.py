"""Whether many simultaneous streams keep the upstream's token pace: the test of benchmarks 2 and 4.

A level starts N streams through the server under test at random moments within one second, and with
them a few probe streams that ask the upstream directly. The probes are the baseline: they show the
upstream's own pace at that moment, under that load, on this shared machine. The level keeps pace when
every stream completes, the p99 gap between tokens is at most 20 ms more than the probes' p99 gap, the
streams' token rate is at least 99% of the probes', and their p99 time to first token is at most 1 s more
than the probes': a server that queues streams for seconds and then relays each at pace has not kept it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.clients import STREAM_TIMEOUT, StreamTrace
from bench.load import staggered
from bench.procs import Service
from bench.stats import median, percentile

MAX_EXTRA_GAP_MS = 20.0
MAX_EXTRA_TTFT_MS = 1000.0
MIN_DELIVERY = 0.99
SPREAD_SECONDS = 1.0

StreamFn = Callable[[int], Awaitable[StreamTrace]]  # the i-th stream of a level


def probes_for(streams: int) -> int:
    return max(5, streams // 10)


@dataclass(frozen=True)
class Level:
    streams: int
    p99_gap_ms: float
    upstream_p99_gap_ms: float  # the probes'
    rate: float  # tokens per second of one stream (mean)
    upstream_rate: float  # the probes'
    failed: int
    p99_ttft_ms: float
    upstream_p99_ttft_ms: float  # the probes'
    tokens: int
    seconds: float
    cpu_seconds: float  # of the server under test while the level ran (NaN: not measured)

    @property
    def extra_gap_ms(self) -> float:
        return self.p99_gap_ms - self.upstream_p99_gap_ms

    @property
    def extra_ttft_ms(self) -> float:
        return self.p99_ttft_ms - self.upstream_p99_ttft_ms

    @property
    def delivery(self) -> float:
        return self.rate / self.upstream_rate if self.upstream_rate else math.nan

    @property
    def kept_pace(self) -> bool:
        return (
            self.failed == 0
            and self.extra_gap_ms <= MAX_EXTRA_GAP_MS
            and self.delivery >= MIN_DELIVERY
            and self.extra_ttft_ms <= MAX_EXTRA_TTFT_MS
        )

    @property
    def cpu_per_1000_tokens(self) -> float:
        return self.cpu_seconds / self.tokens * 1000 if self.tokens else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "extra_gap_ms": self.extra_gap_ms,
            "extra_ttft_ms": self.extra_ttft_ms,
            "delivery": self.delivery,
            "kept_pace": self.kept_pace,
            "cpu_per_1000_tokens": self.cpu_per_1000_tokens,
        }

    def describe(self) -> str:
        verdict = "kept pace" if self.kept_pace else "fell behind"
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.streams} streams: p99 gap +{self.extra_gap_ms:.1f} ms over the upstream's, "
            f"delivery {self.delivery:.3f}, p99 TTFT +{self.extra_ttft_ms:.0f} ms{failed} → {verdict}"
        )


def _rate(trace: StreamTrace, expected_tokens: int) -> float:
    """Tokens per second of one stream; 0 for a stream that failed or came short."""
    if not trace.ok or len(trace.tokens) < max(2, expected_tokens):
        return 0.0
    return (len(trace.tokens) - 1) / (trace.tokens[-1] - trace.tokens[0])


def _p99_ttft_ms(traces: Sequence[StreamTrace]) -> float:
    ttfts = [trace.ttft * 1000 for trace in traces if trace.ok and trace.ttft is not None]
    return percentile(ttfts, 99) if ttfts else math.inf


def _gaps_ms(traces: Sequence[StreamTrace]) -> list[float]:
    return [gap * 1000 for trace in traces for gap in trace.gaps()]


async def run_level(
    streams: int,
    stream: StreamFn,
    probe: StreamFn,
    expected_tokens: int,
    *,
    rng: random.Random,
    server: Service | None = None,
) -> Level:
    """``streams`` streams through the server and ``probes_for(streams)`` straight to the upstream, together."""
    probes = probes_for(streams)

    def start(index: int) -> Awaitable[StreamTrace]:
        return stream(index) if index < streams else probe(index - streams)

    cpu_before = server.cpu_seconds() if server else math.nan
    started = time.perf_counter()
    traces = await staggered(streams + probes, SPREAD_SECONDS, start, rng=rng, max_seconds=STREAM_TIMEOUT)
    seconds = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu_before if server else math.nan
    ours, theirs = traces[:streams], traces[streams:]
    rates = [_rate(trace, expected_tokens) for trace in ours]
    upstream_rates = [rate for rate in (_rate(trace, expected_tokens) for trace in theirs) if rate]
    gaps, upstream_gaps = _gaps_ms(ours), _gaps_ms(theirs)
    return Level(
        streams=streams,
        p99_gap_ms=percentile(gaps, 99) if gaps else math.inf,
        upstream_p99_gap_ms=percentile(upstream_gaps, 99),
        rate=sum(rates) / len(rates),
        upstream_rate=median(upstream_rates) if upstream_rates else math.nan,
        failed=sum(1 for rate in rates if rate == 0.0),
        p99_ttft_ms=_p99_ttft_ms(ours),
        upstream_p99_ttft_ms=_p99_ttft_ms(theirs),
        tokens=sum(len(trace.tokens) for trace in ours),
        seconds=seconds,
        cpu_seconds=cpu,
    )
