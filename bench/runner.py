"""``python -m bench``: run the benchmarks one after another and write bench/results/latest.{json,md}
(``--suite peers``: Parley against the products users would pick instead, into bench/results/peers.{json,md}).

Benchmarks report; they do not fail. The exit status is 0 whatever the figures, and 1 only when a
benchmark itself broke (an error in the harness, shown in the table as ``error``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop

from bench import (
    coldstart,
    extraction,
    history,
    imports,
    local_model,
    logins,
    memory,
    openai_api,
    retrieval,
    streams,
    ttft,
    versus_open_webui,
)
from bench.harness import Benchmark, Context
from bench.procs import ROOT, CpuWatch, raise_open_files_limit
from bench.results import Figure, Report, Status, write
from bench.services import PARLEY_LIMITS

BENCHMARKS: tuple[Benchmark, ...] = tuple(
    module.BENCHMARK
    for module in (
        ttft,
        streams,
        history,
        logins,
        local_model,
        memory,
        coldstart,
        openai_api,
        extraction,
        retrieval,
        imports,
    )
)
# Against other products: large installs of their own (`make bench-peers`), so not part of `make bench`.
# LiteLLM's proxy against /v1 (benchmark 8) runs in both: it is a peer product, and installs into its own env.
PEER_BENCHMARKS: tuple[Benchmark, ...] = (versus_open_webui.BENCHMARK, openai_api.BENCHMARK)
SUITES = {"latest": BENCHMARKS, "peers": PEER_BENCHMARKS}
RESULTS_DIR = ROOT / "bench" / "results"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    names = [b.name for suite in SUITES.values() for b in suite]
    parser.add_argument("--suite", choices=SUITES, default="latest", help="which benchmarks; also the results' name")
    parser.add_argument("--only", action="append", choices=names, help="run only this benchmark (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where SUITE.json and SUITE.md go")
    parser.add_argument("--quick", action="store_true", help="fewer samples: checks the harness, not for figures")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (databases, server logs)")
    args = parser.parse_args(argv)
    suite = SUITES[args.suite]
    if args.list:
        for b in suite:
            print(f"{b.number}. {b.name:12} {b.title}")
        return 0
    chosen = [b for b in suite if not args.only or b.name in args.only]
    raise_open_files_limit()
    started = time.time()
    # Read before the run: the commit is the code that ran, even if the branch moves on meanwhile.
    header = _header(started) | ({"quick run": "yes (fewer samples, shorter ladder)"} if args.quick else {})
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        reports = runner.run(_run_all(chosen, keep=args.keep, quick=args.quick))
    json_path, md_path = write(reports, header, args.out, stem=args.suite)
    _print_summary(reports, json_path, md_path, time.time() - started)
    return 1 if any(f.status is Status.ERROR for r in reports for f in r.figures) else 0


async def _run_all(chosen: Sequence[Benchmark], *, keep: bool, quick: bool) -> list[Report]:
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    reports = []
    for benchmark in chosen:
        reports.append(await _run_one(benchmark, workdir / benchmark.name, quick=quick))
    if keep:
        print(f"working directory kept: {workdir}")
    else:
        await asyncio.to_thread(_remove, workdir)
    return reports


async def _run_one(benchmark: Benchmark, workdir: Path, *, quick: bool) -> Report:
    print(f"\n{benchmark.number}. {benchmark.title}", flush=True)
    report = Report(benchmark.number, benchmark.name, benchmark.title)
    context = Context.fresh(workdir, seed=benchmark.number, quick=quick)
    machine = CpuWatch()
    try:
        async with asyncio.timeout(benchmark.budget_seconds):
            await benchmark.run(context, report)
    except Exception as exc:
        why = "ran out of its time budget" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        report.add(Figure.unavailable(benchmark.title, why[:300], status=Status.ERROR))
    report.seconds, report.background_cores = machine.elapsed(), machine.others_cores()
    print(f"  ({report.seconds:.0f} s; other processes used {report.background_cores:.2f} cores meanwhile)")
    return report


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _header(started: float) -> dict[str, Any]:
    git = shutil.which("git")
    try:
        commit = subprocess.run(  # noqa: S603 - fixed arguments
            [git or "git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "commit": commit,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "parley serve limits": ", ".join(f"{name}={value}" for name, value in PARLEY_LIMITS.items()),
    }


def _print_summary(reports: list[Report], json_path: Path, md_path: Path, seconds: float) -> None:
    misses = [(r, f) for r in reports for f in r.misses]
    print(f"\nDone in {seconds:.0f} s. Results: {md_path} and {json_path}")
    if misses:
        print("Missed aims:")
        for report, figure in misses:
            print(f"  {report.number}. {figure.label} ({figure.aim})")
    sys.stdout.flush()
