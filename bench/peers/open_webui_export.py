"""Open WebUI's chat export format: what its "Export chats" writes and "Import chats" (``POST /api/v1/chats/import``,
one ``ChatImportForm`` per chat) reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any


def export_chat(title: str, turns: Sequence[tuple[str, str]], created: int, *, model: str) -> dict[str, Any]:
    """One chat in Open WebUI's export format: a linear thread of ``(role, text)`` turns, ``created`` in epoch seconds.

    Messages form a tree (``parentId``/``childrenIds``, ``history.currentId`` the visible leaf), the same
    shape the web app saves; ``messages`` is the flat list older exports carry."""
    messages: list[dict[str, Any]] = []
    parent: str | None = None
    for index, (role, text) in enumerate(turns):
        message_id = str(uuid.uuid4())
        message: dict[str, Any] = {
            "id": message_id,
            "parentId": parent,
            "childrenIds": [],
            "role": role,
            "content": text,
            "timestamp": created + index,
        }
        if role == "assistant":
            message |= {"model": model, "modelName": model, "done": True}
        else:
            message["models"] = [model]
        if messages:
            messages[-1]["childrenIds"].append(message_id)
        messages.append(message)
        parent = message_id
    chat = {
        "title": title,
        "models": [model],
        "history": {"messages": {m["id"]: m for m in messages}, "currentId": parent},
        "messages": messages,
        "timestamp": created * 1000,
    }
    return {"chat": chat, "meta": {}, "pinned": False, "created_at": created, "updated_at": created + len(turns)}
