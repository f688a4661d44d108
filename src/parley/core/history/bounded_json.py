"""Parsing one JSON document from an uploaded file, refusing one nested deeper than a bound before parsing it
(Python's parser would recurse once per level: 10,000 levels exhaust the stack)."""

from __future__ import annotations

import json
import re
from typing import Any

from parley.errors import InvalidInput

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(data: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def load_json(data: bytes, *, max_depth: int, what: str) -> Any:
    """The document in ``data``; InvalidInput (naming ``what``) when it is nested too deep or is not JSON."""
    if nesting_depth(data) > max_depth:
        raise InvalidInput(f"{what} nests deeper than {max_depth} levels.")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{what} is not valid JSON.") from None
