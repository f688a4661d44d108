"""What the model sees: the system prompt, attached documents, and as many recent turns as fit the token budget."""

from __future__ import annotations

from collections.abc import Sequence

from parley.core.providers.base import ChatMessage, ImageInput
from parley.core.store.base import Message, MessageStatus
from parley.errors import InvalidInput

# Per-message framing tokens that chat templates add around each turn.
_MESSAGE_OVERHEAD_TOKENS = 4
# Answers worth showing the model again; an error placeholder has nothing to say.
_USABLE = {MessageStatus.COMPLETE, MessageStatus.STOPPED, MessageStatus.INTERRUPTED}


def estimate_tokens(text: str) -> int:
    """A provider-neutral estimate (about four characters a token in English); errs on the high side."""
    return (len(text) + 2) // 3 + _MESSAGE_OVERHEAD_TOKENS


def build_context(
    system_prompt: str | None,
    history: Sequence[Message],
    prompt: str,
    budget_tokens: int,
    *,
    documents: str | None = None,
    images: Sequence[ImageInput] = (),
) -> list[ChatMessage]:
    """System prompt, then the attached documents (a system message of their own, so the user's instructions
    and the documents' untrusted text stay apart), then the newest turns that fit, then the new prompt with its
    images. History is oldest first."""
    head = [ChatMessage("system", system_prompt)] if system_prompt else []
    if documents:
        head.append(ChatMessage("system", documents))
    used = sum(estimate_tokens(m.content) for m in head) + estimate_tokens(prompt)
    if used > budget_tokens:
        raise InvalidInput(
            "The message is too long for this model's context window. Shorten it or pick a larger model."
        )
    kept: list[ChatMessage] = []
    for message in reversed(history):
        if message.role not in ("user", "assistant") or message.status not in _USABLE or not message.content:
            continue
        cost = estimate_tokens(message.content)
        if used + cost > budget_tokens:
            break
        used += cost
        kept.append(ChatMessage("user" if message.role == "user" else "assistant", message.content))
    kept.reverse()
    # Chat templates expect the turns after the system prompt to start with a user message.
    while kept and kept[0].role != "user":
        kept.pop(0)
    return [*head, *kept, ChatMessage("user", prompt, images=tuple(images))]


def title_from_prompt(prompt: str, max_chars: int) -> str:
    """A conversation title from its first message: instant, so the first token is never delayed."""
    words = " ".join(prompt.split())
    if not words:
        return "New chat"
    if len(words) <= max_chars:
        return words
    cut = words[: max_chars - 1].rsplit(" ", 1)[0] or words[: max_chars - 1]
    return cut + "…"
