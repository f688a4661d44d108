"""3. History at scale: listing, opening, appending and searching with 10,000 conversations, against the same with 10.

Two servers run side by side: one over 10,000 conversations of 20 messages (every hundredth holding a
200 KB answer, plus one conversation of 1,000 messages), one over 10 conversations of 20 messages.
Their requests alternate, one at a time, so noise on the machine touches both. ``GET /api/health``
is the HTTP floor. Appending is ``POST /api/chat`` (SSE) into an existing conversation, timed until
Parley's ``start`` event, which comes once the history is read and the message saved; the model's
part comes after and is not counted (the fake upstream answers at once here).

Searching (``GET /api/search``, a page of 20) is also held against listing a page of 50 on the same server in
the same run: once for a word in about one message in a hundred, once for words found in nearly every
message (the seed's vocabulary is small, so this is the worst case: every message of the history matches).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.clients import ParleyClient, http_client
from bench.harness import Benchmark, Context
from bench.load import sampled, timed
from bench.results import Figure, Report
from bench.seed import RARE_WORD, USER, Seeded, Shape, seed
from bench.services import fake_upstream, parley_server
from bench.stats import Summary, ratio

LARGE = Shape(conversations=10_000, messages_each=20, big_every=100, long_messages=1000)
SMALL = Shape(conversations=10, messages_each=20)
SAMPLES = 200
SECONDS_PER_OPERATION = 30
APPEND_TARGETS = 10  # appends cycle through this many conversations on both sides, so both grow alike
AIM_RATIO = 1.5
FLOOR = "GET /api/health"
LIST = "list a page of 50"
SEARCHES = {  # label: query
    f"search a word in 1 message in 100 ({RARE_WORD})": RARE_WORD,
    "search a word in every message (rivers)": "rivers",
    "search three words in every message": "the model answers",
}

Operation = Callable[[int], Awaitable[float]]  # one request, returning the seconds it took


@dataclass
class Side:
    """One server with its seeded history, and a logged-in client for it."""

    label: str
    client: ParleyClient
    token: str
    seeded: Seeded

    def get(self, path: str) -> Operation:
        return timed(lambda _i: self.client.get(path, self.token))

    def operations(self, rng: random.Random) -> dict[str, Operation]:
        regular = self.seeded.regular
        targets = regular[:APPEND_TARGETS]

        async def append(i: int) -> float:
            trace = await self.client.sse_prompt(self.token, "One more question.", targets[i % len(targets)])
            if not trace.ok or trace.started is None:
                raise RuntimeError(f"appending failed: {trace.error}")
            return trace.started - trace.sent

        return {
            FLOOR: self.get("/api/health"),
            LIST: self.get("/api/conversations?limit=50"),
            **{
                label: self.get(f"/api/search?q={query.replace(' ', '+')}&limit=20")
                for label, query in SEARCHES.items()
            },
            "open a conversation": timed(
                lambda _i: self.client.get(f"/api/conversations/{rng.choice(regular)}", self.token)
            ),
            "append a message": append,
        }


async def _alternating(sides: list[Side], rng: random.Random) -> dict[str, dict[str, Summary]]:
    """Each operation on every side, request by request in turn; milliseconds."""
    operations = {side.label: side.operations(rng) for side in sides}
    results: dict[str, dict[str, Summary]] = {}
    for name in operations[sides[0].label]:
        taken: dict[str, list[float]] = {side.label: [] for side in sides}
        deadline = time.monotonic() + SECONDS_PER_OPERATION
        for i in range(SAMPLES):
            if time.monotonic() >= deadline:
                break
            for side in sides:
                taken[side.label].append(await operations[side.label][name](i))
        results[name] = {label: Summary.of(values).scaled(1000) for label, values in taken.items()}
    return results


async def _extremes(side: Side) -> dict[str, Summary]:
    """Opening the two unusual conversations (reported against the HTTP floor, not judged)."""
    assert side.seeded.long is not None
    paths = {
        "open the 1,000-message conversation": f"/api/conversations/{side.seeded.long}",
        "open a conversation with a 200 KB answer": f"/api/conversations/{side.seeded.big[0]}",
    }
    return {label: Summary.of(await sampled(side.get(path), 30, 30)).scaled(1000) for label, path in paths.items()}


async def run(ctx: Context, report: Report) -> None:
    large_seed, small_seed = await asyncio.gather(
        seed(ctx.data_dir("large"), LARGE, ctx.rng), seed(ctx.data_dir("small"), SMALL, ctx.rng)
    )
    async with (
        fake_upstream(ctx.logs, tokens=1, first_token_delay=0, token_delay=0) as upstream,
        parley_server(ctx.logs, ctx.data_dir("small"), upstream, name="parley-10") as small_http,
        parley_server(ctx.logs, ctx.data_dir("large"), upstream, name="parley-10000") as large_http,
        http_client() as http,
    ):
        sides = []
        for label, server, seeded in (("10", small_http, small_seed), ("10,000", large_http, large_seed)):
            client = ParleyClient(http, server.base_url)
            sides.append(Side(label, client, await client.login(USER), seeded))
        for side in sides:  # warm-up
            for operation in side.operations(ctx.rng).values():
                await sampled(operation, 5, 10)
        results = await _alternating(sides, ctx.rng)
        extremes = await _extremes(sides[1])
    _judge(report, results, extremes)


def _judge(report: Report, results: dict[str, dict[str, Summary]], extremes: dict[str, Summary]) -> None:
    floor = results[FLOOR]["10,000"]
    report.data["ms"] = {op: {side: s.to_dict() for side, s in by_side.items()} for op, by_side in results.items()}
    report.data["extremes_ms"] = {label: s.to_dict() for label, s in extremes.items()}
    listing = results[LIST]["10,000"]
    for name, by_side in results.items():
        if name == FLOOR:
            continue
        if name in SEARCHES:  # held against listing a page on the same server (no aim is set for it)
            large, small = by_side["10,000"], by_side["10"]
            report.add(
                Figure(
                    f"{name}, p95 at 10,000 conversations",
                    large.p95,
                    "ms",
                    f"{LIST} p95, same server",
                    listing.p95,
                    ratio(large.p95, listing.p95),
                    detail=f"{ratio(large.p95, small.p95):.1f}x the same search at 10 ({small.p95:.2f} ms)",
                )
            )
            continue
        large, small = by_side["10,000"], by_side["10"]
        scale = ratio(large.p95, small.p95)
        report.add(
            Figure.judged(
                f"{name}, p95 at 10,000 conversations",
                large.p95,
                "ms",
                baseline_label="same at 10",
                baseline=small.p95,
                ratio=scale,
                aim=f"≤ {AIM_RATIO}x at 10",
                met=scale <= AIM_RATIO,
                detail=f"{ratio(large.p95, floor.p95):.1f}x the health floor",
            )
        )
    for label, summary in extremes.items():
        report.add(Figure(f"{label}, p95", summary.p95, "ms", f"{FLOOR} p95", floor.p95, ratio(summary.p95, floor.p95)))
    report.note(
        f"p95 of up to {SAMPLES} requests per operation and side, one at a time, the sides alternating; "
        f"health floor p95 {floor.p95:.2f} ms. Opening picks a random 20-message conversation; appending cycles "
        f"through {APPEND_TARGETS} conversations on each side."
    )


BENCHMARK = Benchmark(3, "history", "History at scale", run, budget_seconds=300)
