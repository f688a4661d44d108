"""Small readings both import formats share: times in any unit, code as Markdown, text from loose JSON."""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from typing import Any

# Epoch times past these are in ms, µs or ns: 1e11 seconds is the year 5138, 1e11 ms is 1973.
_UNIT_THRESHOLDS = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))


def epoch_seconds(value: Any) -> float | None:
    """Seconds since the epoch from a number in s, ms, µs or ns, or from an ISO 8601 string; None if unreadable."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    for threshold, per_second in _UNIT_THRESHOLDS:
        if value >= threshold:
            return float(value) / per_second
    return float(value)


def fenced(code: str, language: str | None = None) -> str:
    """Code as a Markdown block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language or ''}\n{code.rstrip(chr(10))}\n{fence}"


def string_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def object_at(container: dict[str, Any], key: str) -> dict[str, Any]:
    """``container[key]`` when it is a JSON object, else an empty one (exports leave fields out, or null)."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def stand_in_id(*facts: Any) -> str:
    """An id for a conversation its export gives none, made from facts of it that do not change between two exports
    of the same conversation, so that importing it twice is still recognised."""
    seed = json.dumps(facts, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()[:32]
