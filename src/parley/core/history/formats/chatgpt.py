"""ChatGPT's data export: ``conversations.json``, alone or inside the zip ChatGPT sends.

The file is a JSON array of conversations: ``title``, ``create_time`` / ``update_time`` (seconds, fractional),
``mapping`` (node id -> ``{id, message | null, parent, children}``), ``current_node`` (the leaf shown last),
``conversation_id`` / ``id``, ``default_model_slug``. Every branch is kept: an edited prompt and a regenerated answer
are siblings under the same parent, as in ChatGPT.

Which nodes become messages:
- a node whose ``message`` is null (the root ChatGPT puts above the first prompt) is dropped;
- a node hidden from the conversation (``metadata.is_visually_hidden_from_conversation``: the system prompt, the
  model's memory) is dropped, except the user's custom instructions (``user_editable_context``), which the person
  wrote and which shaped every answer: they become a ``system`` message;
- a node with nothing to read (an empty system prompt, an empty assistant turn before a tool call) is dropped.
Children of a dropped node re-attach to its nearest kept ancestor, and ``current_node`` moves up the same way.

Roles: ``user``, ``assistant`` and ``system`` stay as they are; ``tool`` (browsing, code execution, image tools)
becomes ``assistant``, its text headed by the tool's name, since Parley has no tool role yet and the person read it
as part of the answer.

Content, by ``content_type``; what cannot be shown as text is named in a placeholder, never dropped in silence:
- ``text``: its parts, as Markdown;
- ``multimodal_text``: text parts as they are; an image, audio or other asset pointer as a placeholder such as
  ``[image: file-abc]``, with the pointer object itself kept as an opaque part (``chatgpt_asset``), so that a later
  version can fetch the file from the zip; an audio transcription as its text;
- ``code`` (what the model sent to a tool): a fenced Markdown block in its language;
- ``execution_output``: a fenced block;
- ``tether_browsing_display``: the browsing result (and summary) as text; ``tether_quote`` and ``sonic_webpage``: the
  page's title and address, and the quoted text as a Markdown quote;
- ``thoughts``: each thought's summary in bold and its content; ``reasoning_recap`` ("Thought for 5 seconds") in
  italics;
- ``user_editable_context``: the user's profile and instructions; ``system_error``: the error's name and text;
- any other type: its ``text``, ``parts`` or ``result`` if it has one, else a placeholder naming the type, with the
  whole content kept as an opaque part (``chatgpt_content``).

Per message: ``metadata.model_slug`` is the model; ``status`` ``in_progress`` is an interrupted answer;
``metadata.finish_details.type`` gives the finish reason (``stop``, ``max_tokens`` -> ``length``, ``interrupted``
-> a stopped answer).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from parley.core.history.formats.json_stream import head_shape
from parley.core.history.formats.reading import UnreadableConversation, check_message_count, read_conversations
from parley.core.history.formats.tree import SourceNode, build_tree
from parley.core.history.formats.values import epoch_seconds, fenced, object_at, stand_in_id, string_or_none
from parley.core.history.imported import (
    ImportedConversation,
    ImportedMessage,
    ImportItem,
    ImportLimits,
    import_format,
)
from parley.core.history.safe_zip import looks_like_zip, member_names, open_member
from parley.core.store.base import MessageStatus
from parley.core.store.parts import ContentPart, OpaquePart, TextPart
from parley.errors import InvalidInput

NAME = "chatgpt"
CONVERSATIONS_FILE = "conversations.json"
NOT_THIS_FORMAT = "The file is not a ChatGPT data export (its conversations have no message tree)."

_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "assistant"}
_FINISH_REASONS = {"stop": "stop", "max_tokens": "length", "interrupted": "stopped"}


@import_format(NAME)
class ChatGPTExport:
    name = NAME
    label = "ChatGPT data export"

    def sniff(self, path: Path) -> bool:
        try:
            if looks_like_zip(path):
                return _zip_looks_like_chatgpt(path)
            with path.open("rb") as file:
                return _looks_like_chatgpt_head(file)
        except OSError:
            return False

    def read(self, path: Path, limits: ImportLimits) -> Iterator[ImportItem]:
        with _open_conversations(path, limits) as stream:
            yield from read_conversations(
                stream,
                limits,
                convert=_conversation,
                looks_right=_looks_like_conversation,
                not_this_format=NOT_THIS_FORMAT,
                message_containers=frozenset({("mapping",)}),
            )


@contextmanager
def _open_conversations(path: Path, limits: ImportLimits) -> Iterator[IO[bytes]]:
    """``conversations.json`` itself, or the one in ChatGPT's zip (at its root or in one folder)."""
    if not looks_like_zip(path):
        with path.open("rb") as file:
            yield file
        return
    member = _conversations_member(member_names(path, limits))
    if member is None:
        raise InvalidInput(f"The zip holds no {CONVERSATIONS_FILE}: it is not a ChatGPT data export.")
    with open_member(path, member, limits) as stream:
        yield stream


def _conversations_member(names: list[str]) -> str | None:
    candidates = [
        name
        for name in names
        if re.fullmatch(r"(?:[^/]+/)?conversations\.json", name) and not name.startswith("__MACOSX/")
    ]
    return min(candidates, key=lambda name: (name.count("/"), name), default=None)


def _zip_looks_like_chatgpt(path: Path) -> bool:
    limits = ImportLimits()
    try:
        member = _conversations_member(member_names(path, limits))
    except InvalidInput:
        return False
    if member is None:
        return False
    try:
        with open_member(path, member, limits) as stream:
            return _looks_like_chatgpt_head(stream)
    except InvalidInput:
        return True  # ChatGPT's layout, with a conversations.json that cannot be read: ``read`` says why (a bomb...)


def _looks_like_chatgpt_head(stream: IO[bytes]) -> bool:
    shape = head_shape(stream)
    if shape.kind == "array":
        return shape.first_item_is_object and "mapping" in shape.keys
    return shape.kind == "object" and "mapping" in shape.keys and "format" not in shape.keys


def _looks_like_conversation(item: Any) -> bool:
    return isinstance(item, dict) and "mapping" in item


def _conversation(raw: dict[str, Any], limits: ImportLimits) -> ImportedConversation:
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        raise UnreadableConversation("it has no messages (its message tree is missing)")
    check_message_count(len(mapping), limits)
    created_at = epoch_seconds(raw.get("create_time"))
    updated_at = epoch_seconds(raw.get("update_time"))
    created_at = created_at if created_at is not None else updated_at if updated_at is not None else 0.0
    nodes = {str(node_id): _node(node, created_at) for node_id, node in mapping.items()}
    tree = build_tree(nodes, string_or_none(raw.get("current_node")))
    if not tree.messages:
        raise UnreadableConversation("it has no messages")
    title = string_or_none(raw.get("title")) or "Untitled"
    return ImportedConversation(
        source=NAME,
        source_id=string_or_none(raw.get("conversation_id"))
        or string_or_none(raw.get("id"))
        or stand_in_id(raw.get("title"), raw.get("create_time"), sorted(mapping)[:3]),
        title=title,
        created_at=created_at,
        updated_at=max(updated_at or created_at, created_at),
        messages=tree.messages,
        current_source_id=tree.current_source_id,
        model=string_or_none(raw.get("default_model_slug")) or _last_model(tree.messages),
    )


def _node(node: Any, conversation_created_at: float) -> SourceNode:
    if not isinstance(node, dict):
        raise UnreadableConversation("a node of its message tree is not an object")
    parent = node.get("parent")
    children = node.get("children")
    message = node.get("message")
    return SourceNode(
        parent_id=str(parent) if parent is not None else None,
        children=[str(child) for child in children] if isinstance(children, list) else [],
        message=_message(message, conversation_created_at) if isinstance(message, dict) else None,
    )


def _message(message: dict[str, Any], conversation_created_at: float) -> ImportedMessage | None:
    """The message as Parley keeps it, or None for one that is dropped (hidden, or with nothing to read)."""
    author = object_at(message, "author")
    metadata = object_at(message, "metadata")
    content = object_at(message, "content")
    content_type = content.get("content_type")
    role = _ROLES.get(str(author.get("role")), "assistant")
    if content_type == "user_editable_context":
        role = "system"  # the custom instructions: hidden in ChatGPT, but written by the person and obeyed
    elif metadata.get("is_visually_hidden_from_conversation"):
        return None
    parts = _parts(content)
    if not parts:
        return None
    if author.get("role") == "tool":
        parts = _headed(parts, f"**{string_or_none(author.get('name')) or 'Tool'}**")
    finish = object_at(metadata, "finish_details")
    finish_reason = _FINISH_REASONS.get(str(finish.get("type"))) if role == "assistant" else None
    created_at = epoch_seconds(message.get("create_time"))
    return ImportedMessage(
        source_id="",  # set from the node id by build_tree
        parent_source_id=None,
        role=role,
        parts=parts,
        created_at=created_at if created_at is not None else conversation_created_at,
        status=_status(message.get("status"), finish_reason),
        model=string_or_none(metadata.get("model_slug")) if role == "assistant" else None,
        finish_reason=finish_reason,
    )


def _status(status: Any, finish_reason: str | None) -> MessageStatus:
    if status == "in_progress":
        return MessageStatus.INTERRUPTED
    if finish_reason == "stopped":
        return MessageStatus.STOPPED
    return MessageStatus.COMPLETE


def _parts(content: dict[str, Any]) -> tuple[ContentPart, ...]:
    """The readable text of a message's content as one text part, followed by the opaque parts kept beside it."""
    texts: list[str] = []
    kept: list[ContentPart] = []
    content_type = content.get("content_type")
    if content_type in ("text", "multimodal_text"):
        for part in content.get("parts") or []:
            _add_part(part, texts, kept)
    elif content_type == "code":
        code = content.get("text")
        if isinstance(code, str) and code.strip():
            language = string_or_none(content.get("language"))
            texts.append(fenced(code, None if language == "unknown" else language))
    elif content_type == "execution_output":
        output = content.get("text")
        if isinstance(output, str) and output.strip():
            texts.append(fenced(output))
    elif content_type == "tether_browsing_display":
        texts.extend(text for key in ("summary", "result") if (text := string_or_none(content.get(key))))
    elif content_type in ("tether_quote", "sonic_webpage"):
        texts.append(_quote(content))
    elif content_type == "thoughts":
        texts.extend(_thought(thought) for thought in content.get("thoughts") or [] if isinstance(thought, dict))
    elif content_type == "reasoning_recap":
        if recap := string_or_none(content.get("content")):
            texts.append(f"*{recap}*")
    elif content_type == "user_editable_context":
        texts.extend(
            f"{label}:\n{text}"
            for label, key in (("About me", "user_profile"), ("How to answer", "user_instructions"))
            if (text := string_or_none(content.get(key)))
        )
    elif content_type == "system_error":
        error = ": ".join(text for key in ("name", "text") if (text := string_or_none(content.get(key))))
        texts.append(f"*Error: {error or 'unknown'}*")
    else:
        _add_unknown(content, texts, kept)
    text = "\n\n".join(text for text in texts if text.strip())
    return ((TextPart(text),) if text else ()) + tuple(kept)


def _add_part(part: Any, texts: list[str], kept: list[ContentPart]) -> None:
    if isinstance(part, str):
        texts.append(part)
        return
    if not isinstance(part, dict):
        return
    part_type = str(part.get("content_type") or "attachment")
    if part_type == "audio_transcription" and (transcript := string_or_none(part.get("text"))):
        texts.append(transcript)
        return
    if pointer := string_or_none(part.get("asset_pointer")):
        kind = part_type.removesuffix("_asset_pointer").replace("_", " ") or "attachment"
        texts.append(f"[{kind}: {pointer.split('://', 1)[-1]}]")
        kept.append(OpaquePart("chatgpt_asset", {"type": "chatgpt_asset", "asset": part}))
        return
    if text := string_or_none(part.get("text")):
        texts.append(text)
        return
    texts.append(f"[{part_type.replace('_', ' ')}]")
    kept.append(OpaquePart("chatgpt_asset", {"type": "chatgpt_asset", "asset": part}))


def _add_unknown(content: dict[str, Any], texts: list[str], kept: list[ContentPart]) -> None:
    if text := string_or_none(content.get("text")) or string_or_none(content.get("result")):
        texts.append(text)
    elif isinstance(content.get("parts"), list):
        for part in content["parts"]:
            _add_part(part, texts, kept)
    elif content:
        texts.append(f"[{str(content.get('content_type') or 'content').replace('_', ' ')}]")
        kept.append(OpaquePart("chatgpt_content", {"type": "chatgpt_content", "content": content}))


def _quote(content: dict[str, Any]) -> str:
    title = string_or_none(content.get("title")) or string_or_none(content.get("domain")) or "Source"
    url = string_or_none(content.get("url"))
    heading = f"[{title}]({url})" if url else title
    body = string_or_none(content.get("text")) or string_or_none(content.get("snippet"))
    if not body:
        return heading
    return heading + "\n\n" + "\n".join(f"> {line}" for line in body.splitlines())


def _thought(thought: dict[str, Any]) -> str:
    summary = string_or_none(thought.get("summary"))
    body = string_or_none(thought.get("content")) or ""
    return f"**{summary}**\n\n{body}".strip() if summary else body


def _headed(parts: tuple[ContentPart, ...], heading: str) -> tuple[ContentPart, ...]:
    if parts and isinstance(parts[0], TextPart):
        return (TextPart(f"{heading}\n\n{parts[0].text}"), *parts[1:])
    return (TextPart(heading), *parts)


def _last_model(messages: tuple[ImportedMessage, ...]) -> str | None:
    return next((message.model for message in reversed(messages) if message.model), None)
