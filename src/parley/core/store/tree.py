"""Walking a conversation's tree of messages, in memory: the path to a leaf, siblings, the leaves below a message.

The stores use these where reading the whole conversation is the natural query (DynamoDB reads a
conversation's partition in one go), and the chat core uses them to show a branch with its siblings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from parley.core.store.base import Message


def newest(messages: Iterable[Message]) -> Message | None:
    return max(messages, key=lambda m: m.seq, default=None)


def path_to(messages: Sequence[Message], leaf_id: str | None) -> list[Message] | None:
    """The messages from the root to ``leaf_id``, oldest first; None when it is not among ``messages``.

    ``leaf_id`` None means the newest message: a conversation written before messages had parents keeps its
    one branch, and one with no messages has an empty path.
    """
    by_id = {m.id: m for m in messages}
    leaf = newest(messages) if leaf_id is None else by_id.get(leaf_id)
    if leaf is None:
        return [] if leaf_id is None else None
    path: list[Message] = []
    seen: set[str] = set()
    node: Message | None = leaf
    while node is not None and node.id not in seen:  # ``seen``: a damaged record cannot make this spin
        path.append(node)
        seen.add(node.id)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    path.reverse()
    return path


def current_path(messages: Sequence[Message], current_leaf_id: str | None) -> list[Message]:
    """The branch a conversation shows: the path to its current leaf, or to its newest message when it has none."""
    return path_to(messages, current_leaf_id) or path_to(messages, None) or []


def children_of(messages: Iterable[Message]) -> dict[str | None, list[Message]]:
    """Each parent id (None: the roots) with its children in creation order."""
    children: dict[str | None, list[Message]] = {}
    for message in sorted(messages, key=lambda m: m.seq):
        children.setdefault(message.parent_id, []).append(message)
    return children


def subtree(messages: Sequence[Message], message_id: str) -> list[Message]:
    """``message_id`` and everything below it, in creation order (empty when it is not there)."""
    children = children_of(messages)
    found = [m for m in messages if m.id == message_id]
    pending = list(found)
    while pending:
        below = children.get(pending.pop().id, [])
        found.extend(below)
        pending.extend(below)
    return sorted(found, key=lambda m: m.seq)


def newest_leaf_below(messages: Sequence[Message], message_id: str) -> Message | None:
    """The most recently created leaf under ``message_id`` (itself, if it has no children): where a switch to
    that message's branch lands, as the branch last worked on. None when the message is not there."""
    below = subtree(messages, message_id)
    parents = {m.parent_id for m in messages}
    return newest(m for m in below if m.id not in parents)


@dataclass(frozen=True)
class Branch:
    """A conversation as it is shown: the messages from the first to a leaf, and for each of them the ids of
    the messages sharing its parent (itself included, in creation order), which a client offers to switch to."""

    messages: list[Message]
    sibling_ids: Mapping[str, tuple[str, ...]]

    @property
    def leaf_id(self) -> str | None:
        return self.messages[-1].id if self.messages else None


def branch_of(messages: Sequence[Message], leaf_id: str | None) -> Branch:
    """The branch to ``leaf_id`` (to the newest message when it is None or not there)."""
    path = current_path(messages, leaf_id)
    children = children_of(messages)
    siblings = {m.id: tuple(s.id for s in children.get(m.parent_id, [])) for m in path}
    return Branch(messages=path, sibling_ids=siblings)
