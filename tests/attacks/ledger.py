"""The attack suite's figures: attempts tried, faults injected, messages lost or duplicated, per path.

Tests add to the ledger as they attack; the suite prints the totals at the end of the run and writes them
to ``test-results/attack-suite.json``, so a report can quote them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "test-results" / "attack-suite.json"


@dataclass
class PathFigures:
    attempts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    messages_checked: int = 0
    messages_lost: int = 0
    messages_duplicated: int = 0


@dataclass
class Ledger:
    paths: dict[str, PathFigures] = field(default_factory=dict)

    def on(self, path: str) -> PathFigures:
        return self.paths.setdefault(path, PathFigures())

    def attempt(self, path: str, kind: str, count: int = 1) -> None:
        self.on(path).attempts[kind] += count

    def fault(self, path: str, kind: str, count: int = 1) -> None:
        self.on(path).faults[kind] += count

    def reconcile(self, path: str, sent: Sequence[str], saved: Sequence[str]) -> tuple[list[str], list[str]]:
        """Compare what was sent with what the history holds; returns (lost, duplicated) and records both."""
        held = Counter(saved)
        lost = [text for text in sent if held[text] == 0]
        duplicated = [text for text, count in held.items() if count > 1]
        figures = self.on(path)
        figures.messages_checked += len(sent)
        figures.messages_lost += len(lost)
        figures.messages_duplicated += len(duplicated)
        return lost, duplicated

    def summary_lines(self) -> list[str]:
        lines = []
        for path, figures in sorted(self.paths.items()):
            lines.append(
                f"{path}: {sum(figures.attempts.values())} attempts tried, {sum(figures.faults.values())} faults "
                f"injected, {figures.messages_checked} messages checked, {figures.messages_lost} lost, "
                f"{figures.messages_duplicated} duplicated"
            )
            kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(figures.attempts.items()))
            if kinds:
                lines.append(f"    attempts: {kinds}")
            kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(figures.faults.items()))
            if kinds:
                lines.append(f"    faults: {kinds}")
        return lines

    def write(self, destination: Path = RESULTS) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        report = {
            path: {
                "attempts": dict(figures.attempts),
                "faults": dict(figures.faults),
                "messages_checked": figures.messages_checked,
                "messages_lost": figures.messages_lost,
                "messages_duplicated": figures.messages_duplicated,
            }
            for path, figures in sorted(self.paths.items())
        }
        destination.write_text(json.dumps(report, indent=2) + "\n")


LEDGER = Ledger()
