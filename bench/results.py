"""What a benchmark reports, and how a run is written: ``latest.json``, ``latest.md`` and the console.

Every figure is a value next to the baseline it was measured against in the same run, the ratio of
the two, and the aim it is held to (if the issue sets one): absolute times on a shared machine are noise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Status(StrEnum):
    MET = "pass"
    MISSED = "MISS"
    INFO = "info"  # no aim: reported for reading, not judged
    NOT_AVAILABLE = "not available yet"
    ERROR = "error"  # the benchmark itself broke (a harness bug, not a result)


@dataclass(frozen=True)
class Figure:
    label: str
    value: float
    unit: str
    baseline_label: str = ""
    baseline: float = math.nan
    ratio: float = math.nan
    aim: str = ""
    status: Status = Status.INFO
    detail: str = ""

    @classmethod
    def judged(
        cls,
        label: str,
        value: float,
        unit: str,
        *,
        baseline_label: str,
        baseline: float,
        ratio: float,
        aim: str,
        met: bool,
        detail: str = "",
    ) -> Figure:
        """A figure held to an aim; NaN (nothing measured) never passes."""
        status = Status.MET if met and not math.isnan(value) else Status.MISSED
        return cls(label, value, unit, baseline_label, baseline, ratio, aim, status, detail)

    @classmethod
    def unavailable(cls, label: str, why: str, *, status: Status = Status.NOT_AVAILABLE) -> Figure:
        return cls(label, math.nan, "", status=status, detail=why)


@dataclass
class Report:
    """One benchmark's outcome: its figures, what it measured in full (``data``), and notes for the reader."""

    number: int
    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    background_cores: float = 0.0  # CPU used by other processes on the machine meanwhile, in cores

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {format_figure(figure)}", flush=True)
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    @property
    def misses(self) -> list[Figure]:
        return [f for f in self.figures if f.status is Status.MISSED]


def _number(value: float, unit: str = "") -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "∞"
    magnitude = abs(value)
    text = f"{value:,.0f}" if magnitude >= 100 else f"{value:.3g}" if magnitude < 1 else f"{value:.1f}"
    return f"{text} {unit}".strip()


def _ratio(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2g}x" if abs(value) < 0.1 else f"{value:.2f}x"


def format_figure(figure: Figure) -> str:
    if figure.status in (Status.NOT_AVAILABLE, Status.ERROR):
        return f"{figure.label}: {figure.status.value} ({figure.detail})"
    text = f"{figure.label}: {_number(figure.value, figure.unit)}"
    if figure.baseline_label:
        text += f" vs {figure.baseline_label} {_number(figure.baseline, figure.unit)} → {_ratio(figure.ratio)}"
    if figure.aim:
        text += f"  [aim {figure.aim}: {figure.status.value}]"
    if figure.detail:
        text += f"  ({figure.detail})"
    return text


def markdown(reports: list[Report], header: dict[str, Any]) -> str:
    lines = [
        "# Parley benchmarks",
        "",
        " · ".join(f"{k}: {v}" for k, v in header.items()),
        "",
        "| # | figure | value | baseline (same run) | ratio | aim | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        for figure in report.figures:
            cells = [
                str(report.number),
                figure.label,
                _number(figure.value, figure.unit),
                f"{figure.baseline_label} {_number(figure.baseline, figure.unit)}" if figure.baseline_label else "",
                _ratio(figure.ratio),
                figure.aim,
                f"**{figure.status.value}**" if figure.status is Status.MISSED else figure.status.value,
            ]
            if figure.detail:
                cells[-1] += f" ({figure.detail})"
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", "## Notes", ""]
    for report in reports:
        lines.append(
            f"**{report.number}. {report.title}** ({report.seconds:.0f} s; other processes on the machine used "
            f"{report.background_cores:.2f} cores on average meanwhile)"
        )
        lines.append("")
        lines += [f"- {note}" for note in report.notes] or ["- (none)"]
        lines.append("")
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def write(reports: list[Report], header: dict[str, Any], out_dir: Path, *, stem: str = "latest") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        **header,
        "benchmarks": [
            {
                "number": r.number,
                "name": r.name,
                "title": r.title,
                "seconds": r.seconds,
                "background_cores": r.background_cores,
                "figures": [vars(f) for f in r.figures],
                "notes": r.notes,
                "data": r.data,
            }
            for r in reports
        ],
    }
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(_jsonable(document), indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(markdown(reports, header) + "\n")
    return json_path, md_path
