"""Token counts for answers whose provider reported none (the user pressed Stop, the stream broke, or the provider
does not report usage).

The estimate is the rule of thumb OpenAI documents for English text: about four characters per token, rounded up,
plus a few tokens per message for the chat template's framing. It is marked as an estimate wherever it is stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from parley.core.providers.base import ChatMessage

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4  # the role and separators a chat template wraps each message in


def estimate_text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(messages: Iterable[ChatMessage]) -> int:
    return sum(TOKENS_PER_MESSAGE + estimate_text_tokens(message.content) for message in messages)
