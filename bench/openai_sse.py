"""Reading OpenAI-style chat completion streams (the fake upstream's, and peers' chat completions APIs)."""

from __future__ import annotations

import json


def delta_texts(line: str) -> list[str] | None:
    """The non-empty content deltas of one SSE line of an OpenAI-style stream; None at ``data: [DONE]``.

    Peers send more than content chunks on the same stream (usage, sources, status events without
    ``choices``): those carry no tokens and are skipped rather than treated as malformed."""
    if not line.startswith("data:"):
        return []
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    event = json.loads(data)
    if not isinstance(event, dict):
        return []
    texts = []
    for choice in event.get("choices") or ():
        content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
        if content:
            texts.append(content)
    return texts
