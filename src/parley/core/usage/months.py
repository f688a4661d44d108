"""Budgets run per UTC calendar month; the day and month keys usage is filed under."""

from __future__ import annotations

import datetime

UTC = datetime.UTC


def utc(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, UTC)


def month_key(timestamp: float) -> str:
    """``YYYY-MM`` of the UTC month ``timestamp`` falls in."""
    return utc(timestamp).strftime("%Y-%m")


def day_key(timestamp: float) -> str:
    """``YYYY-MM-DD`` of the UTC day ``timestamp`` falls in."""
    return utc(timestamp).strftime("%Y-%m-%d")


def month_start(month: str) -> datetime.datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime.datetime(year, number, 1, tzinfo=UTC)


def next_month_start(month: str) -> datetime.datetime:
    """When the budget of ``month`` (``YYYY-MM``) resets: midnight UTC on the first day of the next month."""
    start = month_start(month)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
