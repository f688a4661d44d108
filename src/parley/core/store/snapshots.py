"""A share's messages as stored, by either backend: one JSON list, copied when the share is made."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from parley.core.store.base import SharedMessage
from parley.core.store.parts import parts_from_json, parts_to_json


def messages_to_json(messages: Iterable[SharedMessage]) -> str:
    return json.dumps(
        [
            {
                "role": m.role,
                "parts": json.loads(parts_to_json(m.parts)),
                "model": m.model,
                "created_at": m.created_at,
            }
            for m in messages
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def messages_from_json(raw: str) -> tuple[SharedMessage, ...]:
    data: list[dict[str, Any]] = json.loads(raw)
    return tuple(
        SharedMessage(
            role=str(item["role"]),
            parts=parts_from_json(json.dumps(item["parts"])),
            model=item.get("model"),
            created_at=float(item["created_at"]),
        )
        for item in data
    )
