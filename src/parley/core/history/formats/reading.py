"""The reading loop both import formats share: stream the file's conversations, convert each, and report the ones
that cannot be read by name while the rest go on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

from parley.core.history.formats.json_stream import ItemBudget, UnreadableItem, top_level_items
from parley.core.history.formats.tree import MalformedTree
from parley.core.history.imported import ImportedConversation, ImportItem, ImportLimits, MalformedConversation
from parley.errors import InvalidInput

# A bound on the JSON values one conversation may hold while it is read, so that one huge conversation cannot
# exhaust memory before its messages are counted. ChatGPT's richest messages (web results with citations) hold a
# few hundred values; most hold a few dozen.
VALUES_PER_MESSAGE = 300


class UnreadableConversation(ValueError):
    """A conversation a format cannot read; the message says why, in plain words."""


Convert = Callable[[dict[str, Any], ImportLimits], ImportedConversation]


def read_conversations(
    stream: IO[bytes],
    limits: ImportLimits,
    *,
    convert: Convert,
    looks_right: Callable[[Any], bool],
    not_this_format: str,
    message_containers: frozenset[tuple[str, ...]],
) -> Iterator[ImportItem]:
    """Each conversation of the file, converted, or reported as malformed. ``looks_right`` judges the first item
    that can be read: when it fails, the file is not this format after all (``InvalidInput(not_this_format)``).
    ``message_containers`` are where a conversation keeps its messages (paths of keys), counted while it is read."""
    budget = ItemBudget(
        max_depth=limits.max_json_depth,
        max_values=limits.max_messages_per_conversation * VALUES_PER_MESSAGE,
        message_containers=message_containers,
        max_messages=limits.max_messages_per_conversation,
    )
    judged = False
    for position, item in top_level_items(stream, budget):
        name = f"Conversation {position}"
        if isinstance(item, UnreadableItem):
            yield MalformedConversation(item.title or name, _sentence(item.reason))
            continue
        if not judged:
            if not looks_right(item):
                raise InvalidInput(not_this_format)
            judged = True
        if not isinstance(item, dict):
            yield MalformedConversation(name, "It is not a conversation (a JSON object was expected).")
            continue
        title = item.get("title")
        try:
            yield convert(item, limits)
        except (MalformedTree, UnreadableConversation) as error:
            yield MalformedConversation(title if isinstance(title, str) and title else name, _sentence(str(error)))


def check_message_count(count: int, limits: ImportLimits) -> None:
    if count > limits.max_messages_per_conversation:
        raise UnreadableConversation(f"it has more than {limits.max_messages_per_conversation:,} messages")


def _sentence(reason: str) -> str:
    return f"It could not be read: {reason}."
