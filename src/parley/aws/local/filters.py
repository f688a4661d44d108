"""Lambda's event filtering, locally: the part of the pattern syntax Parley's filters use.

A record passes a filter when it matches any of its patterns. A pattern matches when every key it names
does: a dict goes one level down; a list holds the values allowed, each a literal or ``{"prefix": ...}``.
Any other rule is refused, so a filter that grows past this subset fails here instead of letting
everything through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class UnsupportedFilter(ValueError):
    """A filter rule this emulation does not implement."""


def passes(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    return any(matches(pattern, record) for pattern in patterns)


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    for key, wanted in pattern.items():
        if key not in record:
            return False
        value = record[key]
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        elif isinstance(wanted, list):
            if not any(_allows(rule, value) for rule in wanted):
                return False
        else:
            raise UnsupportedFilter(f"{key}: a pattern's leaves are lists of allowed values, not {wanted!r}")
    return True


def _allows(rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        if set(rule) == {"prefix"}:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        raise UnsupportedFilter(f"unsupported filter rule {rule!r}")
    return bool(rule == value)
