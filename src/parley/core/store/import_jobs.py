"""How both backends keep an import job's list of skipped conversations: one JSON list of ``{name, reason}``."""

from __future__ import annotations

import json

from parley.core.store.base import SkippedConversation


def skipped_to_json(skipped: tuple[SkippedConversation, ...]) -> str:
    return json.dumps([{"name": s.name, "reason": s.reason} for s in skipped], ensure_ascii=False)


def skipped_from_json(raw: str) -> tuple[SkippedConversation, ...]:
    return tuple(SkippedConversation(name=item["name"], reason=item["reason"]) for item in json.loads(raw))
