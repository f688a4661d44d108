"""What every benchmark is given (a context) and what it declares (a ``Benchmark``)."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.results import Report


@dataclass(frozen=True)
class Context:
    """A fresh working directory per benchmark (databases, logs) and a seeded random source."""

    workdir: Path
    rng: random.Random
    quick: bool = False  # fewer samples and a shorter ladder: checks the harness end to end, not for figures

    @classmethod
    def fresh(cls, workdir: Path, *, seed: int, quick: bool = False) -> Context:
        workdir.mkdir(parents=True)
        return cls(workdir=workdir, rng=random.Random(seed), quick=quick)  # noqa: S311 - load shapes, not secrets

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def data_dir(self, name: str) -> Path:
        return self.workdir / name


@dataclass(frozen=True)
class Benchmark:
    number: int
    name: str
    title: str
    run: Callable[[Context, Report], Awaitable[None]]
    budget_seconds: float  # the benchmark is cut off after this long
