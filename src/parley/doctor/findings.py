"""What a check of ``parley doctor`` reports: one finding per thing looked at, in plain words, with a fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"  # works, but deserves a look
    BROKEN = "broken"  # Parley will not work as configured: `parley doctor` exits non-zero


@dataclass(frozen=True)
class Finding:
    subject: str  # what was looked at: "data directory", "endpoint openai", ...
    status: Status
    message: str  # what was found, in plain words
    fix: str | None = None  # what to do about it, when it is not fine


def ok(subject: str, message: str) -> Finding:
    return Finding(subject, Status.OK, message)


def warning(subject: str, message: str, fix: str | None = None) -> Finding:
    return Finding(subject, Status.WARNING, message, fix)


def broken(subject: str, message: str, fix: str | None = None) -> Finding:
    return Finding(subject, Status.BROKEN, message, fix)
