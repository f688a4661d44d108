"""Open WebUI's chat export (Settings -> Chats -> Export, or one chat's "Export chat (.json)").

The file is a JSON array of chats as Open WebUI's API returns them: ``id``, ``title``, ``created_at`` /
``updated_at`` (seconds), and ``chat`` holding ``history`` (``messages``: id -> ``{id, parentId, childrenIds, role,
content, timestamp, model, ...}``, ``currentId``: the message shown last), a flat ``messages`` list (the current
path), ``models`` and ``timestamp`` (ms). Newer versions also write ``current_message_id`` beside ``chat`` and may
keep an answer's text only in its Responses-style ``output`` items. Older exports hold the ``chat`` object itself
as the item, and the oldest have only the flat ``messages`` list, chained in order when their messages carry no
``parentId``. A single chat object, not in an array, is read too. Times in s, ms, µs or ns are all understood.

Every branch of ``history`` is kept (an edited prompt, a regenerated answer, the answers of several models side by
side are siblings). Roles ``user``, ``assistant`` and ``system`` stay as they are; any other becomes ``assistant``.
Content is Markdown text and is kept as it is (the reasoning and tool-call ``<details>`` blocks Open WebUI writes
into it included). Files attached to a message become a placeholder line (``[image: photo.png]``,
``[file: report.pdf]``) and an opaque part (``openwebui_file``) with the file's description; an image inlined as a
data URL is not copied into it (it would be megabytes in one message). A message whose answer failed keeps the error
text, in italics, with the status ``error``; an answer that never finished (``done: false``) is ``interrupted``.
Token counts come from the message's ``usage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from parley.core.history.formats.json_stream import head_shape
from parley.core.history.formats.reading import UnreadableConversation, check_message_count, read_conversations
from parley.core.history.formats.tree import SourceNode, build_tree
from parley.core.history.formats.values import epoch_seconds, int_or_none, object_at, stand_in_id, string_or_none
from parley.core.history.imported import (
    ImportedConversation,
    ImportedMessage,
    ImportItem,
    ImportLimits,
    import_format,
)
from parley.core.store.base import MessageStatus
from parley.core.store.parts import ContentPart, OpaquePart, TextPart

NAME = "openwebui"
NOT_THIS_FORMAT = "The file is not an Open WebUI chat export (its items are not chats)."

_ROLES = frozenset({"user", "assistant", "system"})
_CHAT_KEYS = frozenset({"history", "messages"})  # what an Open WebUI chat object holds (the older item shape)
_MESSAGE_CONTAINERS = frozenset(
    {("chat", "history", "messages"), ("chat", "messages"), ("history", "messages"), ("messages",)}
)


@import_format(NAME)
class OpenWebUIExport:
    name = NAME
    label = "Open WebUI chat export"

    def sniff(self, path: Path) -> bool:
        try:
            with path.open("rb") as file:
                shape = head_shape(file)
        except OSError:
            return False
        if "format" in shape.keys or "mapping" in shape.keys:
            return False  # Parley's own conversation file, or ChatGPT's
        if shape.kind == "array" and not shape.first_item_is_object:
            return False
        return "chat" in shape.keys or "history" in shape.keys or {"messages", "models"} <= shape.keys

    def read(self, path: Path, limits: ImportLimits) -> Iterator[ImportItem]:
        with path.open("rb") as file:
            yield from read_conversations(
                file,
                limits,
                convert=_conversation,
                looks_right=_looks_like_chat,
                not_this_format=NOT_THIS_FORMAT,
                message_containers=_MESSAGE_CONTAINERS,
            )


def _looks_like_chat(item: Any) -> bool:
    return isinstance(item, dict) and (isinstance(item.get("chat"), dict) or bool(_CHAT_KEYS & item.keys()))


def _conversation(raw: dict[str, Any], limits: ImportLimits) -> ImportedConversation:
    chat = raw["chat"] if isinstance(raw.get("chat"), dict) else raw
    created_at = _first_time(raw.get("created_at"), chat.get("timestamp"), raw.get("timestamp"))
    updated_at = _first_time(raw.get("updated_at"), raw.get("created_at"), chat.get("timestamp")) or created_at
    default_time = created_at or 0.0
    history = object_at(chat, "history")
    tree_messages = history.get("messages")
    if isinstance(tree_messages, dict) and tree_messages:
        check_message_count(len(tree_messages), limits)
        nodes = {str(key): _node(value, str(key), default_time) for key, value in tree_messages.items()}
        current = string_or_none(history.get("currentId")) or string_or_none(raw.get("current_message_id"))
    elif isinstance(chat.get("messages"), list) and chat["messages"]:
        check_message_count(len(chat["messages"]), limits)
        nodes = _flat_nodes(chat["messages"], default_time)
        current = next(reversed(nodes), None)
    else:
        raise UnreadableConversation("it has no messages")
    tree = build_tree(nodes, current)
    if not tree.messages:
        raise UnreadableConversation("it has no messages")
    # Older exports hold the chat object itself, whose "id" is often empty: a stand-in keeps re-imports idempotent.
    source_id = (
        string_or_none(raw.get("id"))
        or string_or_none(chat.get("id"))
        or stand_in_id(chat.get("title"), chat.get("timestamp"), [message.source_id for message in tree.messages[:3]])
    )
    models = chat.get("models")
    return ImportedConversation(
        source=NAME,
        source_id=source_id,
        title=string_or_none(raw.get("title")) or string_or_none(chat.get("title")) or "Untitled",
        created_at=default_time,
        updated_at=max(updated_at or default_time, default_time),
        messages=tree.messages,
        current_source_id=tree.current_source_id,
        model=string_or_none(models[0]) if isinstance(models, list) and models else None,
    )


def _first_time(*values: Any) -> float | None:
    return next((seconds for value in values if (seconds := epoch_seconds(value)) is not None), None)


def _node(raw: Any, key: str, default_time: float) -> SourceNode:
    if not isinstance(raw, dict):
        raise UnreadableConversation(f"message {key!r} is not an object")
    parent = raw.get("parentId")
    children = raw.get("childrenIds")
    return SourceNode(
        parent_id=str(parent) if parent is not None else None,
        children=[str(child) for child in children] if isinstance(children, list) else [],
        message=_message(raw, default_time),
    )


def _flat_nodes(messages: list[Any], default_time: float) -> dict[str, SourceNode]:
    """The oldest exports: a list in order. Messages that name their parent keep it; the others follow the one
    before them."""
    nodes: dict[str, SourceNode] = {}
    previous: str | None = None
    for index, raw in enumerate(messages):
        if not isinstance(raw, dict):
            raise UnreadableConversation(f"message {index + 1} is not an object")
        node_id = string_or_none(raw.get("id")) or f"message-{index + 1}"
        parent = raw.get("parentId", previous) if "parentId" in raw else previous
        nodes[node_id] = SourceNode(
            parent_id=str(parent) if parent is not None else None, children=(), message=_message(raw, default_time)
        )
        previous = node_id
    return nodes


def _message(raw: dict[str, Any], default_time: float) -> ImportedMessage | None:
    role = raw.get("role") if raw.get("role") in _ROLES else "assistant"
    text, kept = _content(raw.get("content"))
    if not text.strip():
        text = _output_text(raw.get("output")) or text  # newer versions may keep an answer only in ``output``
    files = raw.get("files")
    if isinstance(files, list):
        for file in files:
            if isinstance(file, dict):
                text = "\n\n".join(filter(None, (text, _file_placeholder(file))))
                kept.append(
                    OpaquePart("openwebui_file", {"type": "openwebui_file", "file": _without_inline_data(file)})
                )
    error = _error_text(raw.get("error"))
    if error:
        text = "\n\n".join(filter(None, (text, f"*{error}*")))
    parts: tuple[ContentPart, ...] = ((TextPart(text),) if text else ()) + tuple(kept)
    if not parts:
        return None
    usage = object_at(raw, "usage")
    timestamp = epoch_seconds(raw.get("timestamp"))
    return ImportedMessage(
        source_id="",  # set from the message id by build_tree
        parent_source_id=None,
        role=str(role),
        parts=parts,
        created_at=timestamp if timestamp is not None else default_time,
        status=_status(raw, error),
        model=string_or_none(raw.get("model")) if role == "assistant" else None,
        finish_reason="error" if error else None,
        prompt_tokens=int_or_none(usage.get("prompt_tokens")),
        completion_tokens=int_or_none(usage.get("completion_tokens")),
    )


def _content(content: Any) -> tuple[str, list[ContentPart]]:
    """Text as it is; a list of OpenAI-style parts (some versions write one) as its texts and image placeholders."""
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    kept: list[ContentPart] = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict):
            texts.append(f"[{str(part.get('type') or 'attachment').replace('_', ' ')}]")
            kept.append(OpaquePart("openwebui_file", {"type": "openwebui_file", "file": _without_inline_data(part)}))
    return "\n\n".join(texts), kept


def _output_text(output: Any) -> str:
    """The text of an answer kept as Responses-style output items (``{"type": "message", "content": [...]}``)."""
    texts = []
    for item in output if isinstance(output, list) else []:
        if isinstance(item, dict) and item.get("type") == "message" and isinstance(item.get("content"), list):
            text = "".join(str(part["text"]) for part in item["content"] if isinstance(part, dict) and "text" in part)
            if text.strip():
                texts.append(text)
    return "\n".join(texts)


def _file_placeholder(file: dict[str, Any]) -> str:
    kind = "image" if file.get("type") == "image" else "file"
    name = string_or_none(file.get("name")) or string_or_none(file.get("id"))
    if name is None and isinstance(file.get("file"), dict):
        name = string_or_none(file["file"].get("filename"))
    return f"[{kind}: {name}]" if name else f"[{kind}]"


def _without_inline_data(value: Any) -> Any:
    """A copy without data URLs (an inlined image is megabytes of base64: named, not copied)."""
    if isinstance(value, dict):
        return {key: _without_inline_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_inline_data(item) for item in value]
    if isinstance(value, str) and value.startswith("data:"):
        return value.split(",", 1)[0] + ",(not imported)"
    return value


def _error_text(error: Any) -> str | None:
    if isinstance(error, dict):
        return string_or_none(error.get("content")) or string_or_none(error.get("message")) or "The answer failed."
    if isinstance(error, str):
        return error or None
    return "The answer failed." if error is True else None


def _status(raw: dict[str, Any], error: str | None) -> MessageStatus:
    if error:
        return MessageStatus.ERROR
    if raw.get("role") == "assistant" and raw.get("done") is False:
        return MessageStatus.INTERRUPTED
    return MessageStatus.COMPLETE
