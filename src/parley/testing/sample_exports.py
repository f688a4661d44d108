"""Export files of other apps, built in Python in the shapes the real ones have, for tests of the import.

``chatgpt_conversation`` and ``openwebui_chat`` are realistic: an edited prompt and a regenerated answer as
branches, ChatGPT's null root and hidden system node, multimodal and code content, a tool message; Open WebUI's
history tree beside its flat list of the current path. The smaller builders make the odd cases.
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from parley.core.history.imported import ImportedConversation, ImportFormat, ImportLimits
from parley.core.store.parts import text_of

T0 = 1_714_550_400.0  # 2024-05-01 08:00 UTC, when the sample conversations start


# ChatGPT -------------------------------------------------------------------------------------------------------


def chatgpt_message(
    role: str,
    content: dict[str, Any],
    *,
    at: float | None,
    model: str | None = None,
    hidden: bool = False,
    name: str | None = None,
    recipient: str = "all",
    status: str = "finished_successfully",
    finish: str | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"request_id": "8a1f", "timestamp_": "absolute", "message_type": None}
    if model:
        metadata["model_slug"] = model
        metadata["default_model_slug"] = model
    if hidden:
        metadata["is_visually_hidden_from_conversation"] = True
    if finish:
        metadata["finish_details"] = {"type": finish, "stop_tokens": [200002]}
    return {
        "id": "",  # filled by chatgpt_mapping
        "author": {"role": role, "name": name, "metadata": {}},
        "create_time": at,
        "update_time": None,
        "content": content,
        "status": status,
        "end_turn": True if role == "assistant" else None,
        "weight": 0.0 if hidden else 1.0,
        "metadata": metadata,
        "recipient": recipient,
        "channel": None,
    }


def text(*parts: Any) -> dict[str, Any]:
    return {"content_type": "text", "parts": list(parts)}


def multimodal(*parts: Any) -> dict[str, Any]:
    return {"content_type": "multimodal_text", "parts": list(parts)}


def image_pointer(file_id: str) -> dict[str, Any]:
    return {
        "content_type": "image_asset_pointer",
        "asset_pointer": f"file-service://{file_id}",
        "size_bytes": 183_402,
        "width": 1024,
        "height": 768,
        "fovea": None,
        "metadata": {"dalle": None, "gizmo": None, "sanitized": True},
    }


def chatgpt_mapping(nodes: Iterable[tuple[str, str | None, dict[str, Any] | None]]) -> dict[str, Any]:
    """A mapping from ``(id, parent id, message or None)``; each node's children are the nodes that name it as
    parent, in the order given (the order ChatGPT shows branches in)."""
    mapping: dict[str, Any] = {}
    for node_id, parent, message in nodes:
        if message is not None:
            message = {**message, "id": node_id}
        mapping[node_id] = {"id": node_id, "message": message, "parent": parent, "children": []}
        if parent is not None and parent in mapping:
            mapping[parent]["children"].append(node_id)
    return mapping


def chatgpt_conversation_record(
    title: str, mapping: dict[str, Any], current_node: str | None, *, conversation_id: str, at: float = T0
) -> dict[str, Any]:
    return {
        "title": title,
        "create_time": at,
        "update_time": at + 3600.5,
        "mapping": mapping,
        "moderation_results": [],
        "current_node": current_node,
        "plugin_ids": None,
        "conversation_id": conversation_id,
        "conversation_template_id": None,
        "gizmo_id": None,
        "is_archived": False,
        "safe_urls": [],
        "default_model_slug": "gpt-4o",
        "id": conversation_id,
    }


def chatgpt_conversation(conversation_id: str = "67a1c0de-trip", title: str = "Weekend in Lisbon") -> dict[str, Any]:
    """Null root -> hidden system prompt -> a prompt and its answer; then the next prompt was edited (two user
    branches), the first version's answer was regenerated (two assistant branches), and the edited version sent a
    photo and made the model run code. ChatGPT last showed the regenerated answer."""
    m = chatgpt_message
    mapping = chatgpt_mapping(
        [
            ("root", None, None),
            ("sys", "root", m("system", text(""), at=None, hidden=True)),
            ("u1", "sys", m("user", text("Plan a weekend in Lisbon."), at=T0 + 10)),
            (
                "a1",
                "u1",
                m("assistant", text("Day 1: Alfama. Day 2: Belém."), at=T0 + 20, model="gpt-4o", finish="stop"),
            ),
            ("u2", "a1", m("user", text("Make it cheaper."), at=T0 + 30)),
            ("a2", "u2", m("assistant", text("Walk everywhere."), at=T0 + 40, model="gpt-4o", finish="stop")),
            ("a2b", "u2", m("assistant", text("Take the tram 28."), at=T0 + 50, model="gpt-4o-mini", finish="stop")),
            ("u2b", "a1", m("user", multimodal("What is this tower?", image_pointer("file-Tower1")), at=T0 + 60)),
            (
                "code",
                "u2b",
                m(
                    "assistant",
                    {
                        "content_type": "code",
                        "language": "python",
                        "response_format_name": None,
                        "text": "print(1500 + 19)",
                    },
                    at=T0 + 70,
                    model="gpt-4o",
                    recipient="python",
                ),
            ),
            ("run", "code", m("tool", {"content_type": "execution_output", "text": "1519"}, at=T0 + 71, name="python")),
            (
                "a3",
                "run",
                m("assistant", text("The Belém Tower, built in 1519."), at=T0 + 80, model="gpt-4o", finish="stop"),
            ),
        ]
    )
    return chatgpt_conversation_record(title, mapping, "a2b", conversation_id=conversation_id)


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def write_json_array(path: Path, items: Iterable[Any]) -> Path:
    """A JSON array written item by item, so that a test can make a file far bigger than it would hold."""
    with path.open("w", encoding="utf-8") as file:
        file.write("[")
        for index, item in enumerate(items):
            file.write(("," if index else "") + json.dumps(item))
        file.write("]")
    return path


def message_tree(conversation: ImportedConversation) -> list[tuple[str, str | None, str, str]]:
    """``(id, parent id, role, text)`` of each message, in the order read: the tree a test asserts."""
    return [
        (message.source_id, message.parent_source_id, message.role, text_of(message.parts))
        for message in conversation.messages
    ]


def read_measuring_memory(reader: ImportFormat, path: Path) -> tuple[int, int]:
    """How many conversations ``reader`` reads from ``path``, and the peak of Python memory while it does."""
    tracemalloc.start()
    try:
        count = sum(1 for item in reader.read(path, ImportLimits()) if isinstance(item, ImportedConversation))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def chatgpt_zip(path: Path, conversations: list[dict[str, Any]], *, folder: str = "") -> Path:
    """The zip ChatGPT mails: conversations.json beside chat.html, user.json and the uploaded files."""
    prefix = f"{folder}/" if folder else ""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{prefix}conversations.json", json.dumps(conversations))
        archive.writestr(f"{prefix}chat.html", "<html><body>Your conversations</body></html>")
        archive.writestr(f"{prefix}user.json", json.dumps({"id": "user-1", "email": "me@example.com"}))
        archive.writestr(f"{prefix}message_feedback.json", "[]")
        archive.writestr(f"{prefix}file-Tower1-photo.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
    return path


# Hostile files --------------------------------------------------------------------------------------------------


def nested_json(depth: int) -> str:
    """Arrays nested ``depth`` deep (a parser that recurses falls over long before 10,000)."""
    return "[" * depth + "]" * depth


def zip_bomb(path: Path, *, member: str = "conversations.json", inflated_bytes: int = 64 * 1024 * 1024) -> Path:
    """A small zip whose one file inflates to ``inflated_bytes`` of spaces (about a thousand to one)."""
    chunk = b" " * (1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, archive.open(member, "w") as file:
        file.write(b"[")
        for _ in range(inflated_bytes // len(chunk)):
            file.write(chunk)
        file.write(b"]")
    return path


# Open WebUI ----------------------------------------------------------------------------------------------------


def openwebui_message(
    message_id: str,
    parent: str | None,
    children: list[str],
    role: str,
    content: str,
    *,
    at: float,
    model: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": message_id,
        "parentId": parent,
        "childrenIds": children,
        "role": role,
        "content": content,
        "timestamp": at,
    }
    if role == "user":
        message["models"] = [model or "llama3.1:8b"]
    else:
        message.update(model=model, modelName=model, modelIdx=0, userContext=None, done=True)
    message.update(extra)
    return message


def openwebui_chat(chat_id: str = "5c3d1e2f-owui", title: str = "Sourdough starter") -> dict[str, Any]:
    """An export item as Open WebUI's API returns it. The first prompt got two answers (regenerated); the second
    prompt was edited (two user branches) and its last answer came from a second model. Message times are in
    seconds, ``chat.timestamp`` in ms."""
    t = int(T0)
    om = openwebui_message
    messages = {
        "u1": om("u1", None, ["a1", "a1b"], "user", "How do I feed a sourdough starter?", at=t + 10),
        "a1": om("a1", "u1", [], "assistant", "Equal weights of flour and water.", at=t + 20, model="llama3.1:8b"),
        "a1b": om(
            "a1b",
            "u1",
            ["u2", "u2b"],
            "assistant",
            "Discard half, then add flour and water 1:1.",
            at=t + 30,
            model="llama3.1:8b",
            usage={"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        ),
        "u2": om(
            "u2",
            "a1b",
            ["a2"],
            "user",
            "Is mine alive?",
            at=t + 40,
            files=[{"type": "image", "url": "data:image/png;base64," + "iVBORw0KGgo" * 50, "name": "jar.png"}],
        ),
        "a2": om("a2", "u2", [], "assistant", "Bubbles mean yes.", at=t + 50, model="llama3.1:8b"),
        "u2b": om("u2b", "a1b", ["a3"], "user", "How often should I feed it?", at=t + 60),
        "a3": om("a3", "u2b", [], "assistant", "Once a day at room temperature.", at=t + 70, model="qwen2.5:7b"),
    }
    path = [messages[key] for key in ("u1", "a1b", "u2b", "a3")]
    return {
        "id": chat_id,
        "user_id": "0f6e-user",
        "title": title,
        "chat": {
            "id": "",
            "title": title,
            "models": ["llama3.1:8b", "qwen2.5:7b"],
            "params": {},
            "history": {"messages": messages, "currentId": "a3"},
            "messages": path,
            "tags": [],
            "timestamp": t * 1000,
            "files": [],
        },
        "updated_at": t + 70,
        "created_at": t,
        "share_id": None,
        "archived": False,
        "pinned": False,
        "meta": {"tags": ["baking"]},
        "folder_id": None,
    }
