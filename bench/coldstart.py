"""7. Cold start: the import time of each Lambda handler module in a fresh process, against ``import boto3``
in the same run; and the worker's coalescing: posts per second per stream and the largest frame when a
2,000-token answer is replayed through its relay at the fake upstream's pace.

Handler modules are the modules of ``parley.aws.handlers``; when that package (or boto3) is missing,
the figures say so. Each import is timed inside a new interpreter (start-up itself excluded), all
modules taking turns, 20 times; the aim (issue 15) is at most twice ``import boto3``. The OpenAI-compatible
function is a program, not a handler: its module imports nothing until ``main`` runs, so its figure is the import
of what ``main`` loads (uvicorn and the ``/v1`` app). The replay runs meanwhile: it waits on timers and posts to a
recorder, so it barely touches the CPU the imports use.
"""

from __future__ import annotations

import asyncio
import importlib.util
import pkgutil
import time
from dataclasses import dataclass

from bench.harness import Benchmark, Context
from bench.procs import run_python
from bench.results import Figure, Report
from bench.stats import Summary, ratio

HANDLER_PACKAGE = "parley.aws.handlers"
RELAY = "parley.aws.relay"  # the worker's coalescing relay
RUNS = 20
BASELINE = "boto3"
AIM_RATIO = 2.0  # issue 15: a handler's import at most twice boto3's
# Programs run by a startup script (the Lambda Web Adapter) rather than called: what their ``main`` imports.
PROGRAM_IMPORTS = {
    f"{HANDLER_PACKAGE}.openai_api": (
        f"{HANDLER_PACKAGE}.openai_api",
        "uvicorn",
        "parley.server.openai_app",
        "parley.aws.clients",
        "parley.aws.secrets",
    ),
}
REPLAY_TOKENS = 2000
FIRST_TOKEN_DELAY, TOKEN_GAP = 0.2, 0.02
_TIME_IMPORT = (
    "import importlib, sys, time\n"
    "started = time.perf_counter()\n"
    "for name in sys.argv[1:]:\n"
    "    importlib.import_module(name)\n"
    "print(time.perf_counter() - started)\n"
)


def handler_modules() -> list[str] | None:
    """The handler modules, or None when the package does not exist (yet)."""
    try:
        spec = importlib.util.find_spec(HANDLER_PACKAGE)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    found = pkgutil.iter_modules(spec.submodule_search_locations, prefix=f"{HANDLER_PACKAGE}.")
    return sorted(module.name for module in found if not module.ispkg) or None


async def import_seconds(module: str) -> float:
    return float(await run_python("-c", _TIME_IMPORT, *PROGRAM_IMPORTS.get(module, (module,))))


async def import_times(modules: list[str]) -> dict[str, list[float]]:
    """Seconds to import each module in a fresh process, ``RUNS`` times, the modules taking turns."""
    times: dict[str, list[float]] = {module: [] for module in modules}
    for _ in range(RUNS):
        for module in modules:
            times[module].append(await import_seconds(module))
    return times


@dataclass(frozen=True)
class Replay:
    posts: int
    largest_frame: int
    seconds: float
    max_frame_bytes: int
    interval: float

    @property
    def posts_per_second(self) -> float:
        return self.posts / self.seconds


async def replay_through_relay() -> Replay:
    """A 2,000-token answer at the fake upstream's pace, through the worker's relay, posting to a recorder."""
    from parley.aws.relay import StreamRelay
    from parley.config import Settings
    from parley.core.chat.events import DeltaEvent, DoneEvent
    from parley.core.chat.service import Generation

    settings = Settings.from_env(env={})
    generation = Generation(user_id="bench", msgid="replay")

    async def post(_frame: str) -> bool:
        return True  # the relay keeps its own count of posts and of the largest frame

    async def never_stopped() -> bool:
        return False

    relay = StreamRelay(
        post, never_stopped, interval=settings.ws_post_interval, max_frame_bytes=settings.ws_max_frame_bytes
    )

    async def produce() -> None:
        started = time.perf_counter() + FIRST_TOKEN_DELAY
        for seq in range(1, REPLAY_TOKENS + 1):
            await asyncio.sleep(max(0.0, started + (seq - 1) * TOKEN_GAP - time.perf_counter()))
            generation.emit(DeltaEvent(msgid=generation.msgid, seq=seq, text=f" word{seq}"))
        generation.emit(DoneEvent(msgid=generation.msgid, finish_reason="stop", usage=None))
        generation.finish()

    began = time.perf_counter()
    producer = asyncio.create_task(produce())
    stats = await relay.run(generation)
    await producer
    return Replay(
        posts=stats.posts,
        largest_frame=stats.largest_frame,
        seconds=time.perf_counter() - began - FIRST_TOKEN_DELAY,
        max_frame_bytes=settings.ws_max_frame_bytes,
        interval=settings.ws_post_interval,
    )


async def run(ctx: Context, report: Report) -> None:
    modules = handler_modules()
    if modules is None:
        report.add(Figure.unavailable("Lambda handler import time", f"no {HANDLER_PACKAGE} package"))
        report.add(Figure.unavailable("worker coalescing", f"no {HANDLER_PACKAGE} package"))
        return
    replay = asyncio.create_task(replay_through_relay()) if importlib.util.find_spec(RELAY) else None
    if importlib.util.find_spec(BASELINE) is None:
        report.add(Figure.unavailable("Lambda handler import time", f"{BASELINE} is not installed"))
    else:
        _judge_imports(report, await import_times([BASELINE, *modules]))
    if replay is None:
        report.add(Figure.unavailable("worker coalescing", f"no {RELAY} module"))
    else:
        _judge_replay(report, await replay)


def _judge_imports(report: Report, times: dict[str, list[float]]) -> None:
    summaries = {module: Summary.of(values).scaled(1000) for module, values in times.items()}
    report.data["import_ms"] = {module: s.to_dict() for module, s in summaries.items()}
    baseline = summaries.pop(BASELINE)
    for module, summary in summaries.items():
        program = " (what its main imports)" if module in PROGRAM_IMPORTS else ""
        times = ratio(summary.p50, baseline.p50)
        report.add(
            Figure.judged(
                f"import {module.removeprefix('parley.aws.')}{program}, median",
                summary.p50,
                "ms",
                baseline_label=f"import {BASELINE}",
                baseline=baseline.p50,
                ratio=times,
                aim=f"≤ {AIM_RATIO:g}x {BASELINE}",
                met=times <= AIM_RATIO,
                detail=f"p95 {summary.p95:.0f} ms",
            )
        )
    report.note(f"Import times are medians of {RUNS} fresh interpreters each (interpreter start-up excluded).")


def _judge_replay(report: Report, replay: Replay) -> None:
    tokens_per_second = 1 / TOKEN_GAP
    report.data["replay"] = {
        "tokens": REPLAY_TOKENS,
        "posts": replay.posts,
        "seconds": replay.seconds,
        "largest_frame_bytes": replay.largest_frame,
        "interval_s": replay.interval,
    }
    report.add(
        Figure(
            "worker posts per second per stream",
            replay.posts_per_second,
            "/s",
            "one post per token",
            tokens_per_second,
            ratio(replay.posts_per_second, tokens_per_second),
            detail=f"{replay.posts} posts for {REPLAY_TOKENS} tokens; flush interval {replay.interval * 1000:.0f} ms",
        )
    )
    report.add(
        Figure.judged(
            "worker's largest frame",
            replay.largest_frame,
            "B",
            baseline_label="API Gateway frame limit",
            baseline=replay.max_frame_bytes,
            ratio=ratio(replay.largest_frame, replay.max_frame_bytes),
            aim="≤ the frame limit",
            met=replay.largest_frame <= replay.max_frame_bytes,
        )
    )


BENCHMARK = Benchmark(7, "coldstart", "Cold start (Lambda handlers)", run, budget_seconds=240)
