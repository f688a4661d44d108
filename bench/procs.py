"""Processes the benchmarks start: run one, wait until it says it is ready, read its CPU and memory, stop it.

Each process writes its output to a log file (a pipe nobody reads would fill and stall it); readiness is
a regular expression matched against that file. Only processes started here are ever signalled.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The variables that would point a server at something other than what a benchmark sets up.
_SCRUBBED_PREFIXES = ("PARLEY_", "OPENAI_")


class ServiceError(RuntimeError):
    pass


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without Parley/OpenAI settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    # ROOT, so `python -m bench.peers.X` works from any directory; then the caller's path, so servers run the
    # same Parley as this process (a worktree's src ahead of the venv's editable install).
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra)
    return env


@dataclass
class Service:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_for(self, pattern: str, max_seconds: float) -> re.Match[str]:
        """The first match of ``pattern`` in the log; fails if the process exits or time runs out."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            found = compiled.search(self.log())
            if found:
                return found
            if self.process.returncode is not None:
                raise ServiceError(f"{self.name} exited ({self.process.returncode}):\n{self.log()[-2000:]}")
            await asyncio.sleep(0.05)
        raise ServiceError(f"{self.name} did not log {pattern!r} within {max_seconds:.0f} s:\n{self.log()[-2000:]}")

    def cpu_seconds(self) -> float:
        process = psutil.Process(self.pid)  # with its children, as for memory
        return sum(float(t.user + t.system) for t in (p.cpu_times() for p in (process, *process.children(True))))

    def rss_bytes(self) -> int:
        # With its children: the local model runs in a process of its own.
        process = psutil.Process(self.pid)
        return sum(int(p.memory_info().rss) for p in (process, *process.children(recursive=True)))

    async def stop(self, grace_seconds: float = 15.0) -> None:
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), grace_seconds)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def _log_path(log_dir: Path, name: str) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}.log"


@asynccontextmanager
async def service(
    name: str,
    argv: Sequence[str],
    *,
    log_dir: Path,
    env: Mapping[str, str],
    ready: str,
    ready_seconds: float = 60.0,
) -> AsyncIterator[tuple[Service, re.Match[str]]]:
    """Start ``argv``, wait for ``ready`` in its log, yield it with the match, and always stop it."""
    log_path = _log_path(log_dir, name)
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file, env=dict(env), cwd=ROOT
        )
    started = Service(name=name, process=process, log_path=log_path)
    try:
        match = await started.wait_for(ready, ready_seconds)
        yield started, match
    finally:
        await started.stop()


async def run_python(*args: str, env: Mapping[str, str] | None = None, max_seconds: float = 120.0) -> str:
    """Run ``python ARGS`` (``-c CODE ...`` or ``-m MODULE ...``) in a fresh process; its standard output."""
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else clean_env({}),
        cwd=ROOT,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), max_seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise ServiceError(err.decode(errors="replace")[-2000:])
    return out.decode()


class CpuWatch:
    """How busy the rest of the machine was since this was made: all CPU time used, less this process's and
    its finished children's (every server a benchmark starts has exited by the time it is read)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._machine = self._busy_machine()
        self._ours = self._busy_ours()

    @staticmethod
    def _busy_machine() -> float:
        times = psutil.cpu_times()._asdict()  # on Linux, guest time is already counted in user time
        idle = ("idle", "iowait", "guest", "guest_nice")
        return float(sum(value for name, value in times.items() if name not in idle))

    @staticmethod
    def _busy_ours() -> float:
        times = psutil.Process().cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)

    def elapsed(self) -> float:
        return time.perf_counter() - self._started

    def others_cores(self) -> float:
        """Cores' worth of CPU used by other processes, on average."""
        others = (self._busy_machine() - self._machine) - (self._busy_ours() - self._ours)
        return max(0.0, others / self.elapsed())


def raise_open_files_limit(wanted: int = 16384) -> None:
    """Thousands of sockets need more than the usual 1024 descriptors; children inherit the limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
