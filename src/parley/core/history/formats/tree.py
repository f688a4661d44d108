"""Turning a source's message tree (nodes with a parent and a list of children) into Parley's.

Both ChatGPT and Open WebUI keep every branch: a node per message, its parent's id, and its children in the order
the app shows them. Some nodes carry nothing a person reads (ChatGPT's empty root, hidden system prompts); they are
dropped and their children re-attached to the nearest kept ancestor, so that no branch below them is lost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from parley.core.history.imported import ImportedMessage


class MalformedTree(ValueError):
    """The nodes do not form a tree; the message says why, in plain words."""


@dataclass(frozen=True)
class SourceNode:
    parent_id: str | None
    children: Sequence[str]  # the order the source shows them in; used for order only, ``parent_id`` decides
    message: ImportedMessage | None  # None: dropped, its children re-attach to the nearest kept ancestor


@dataclass(frozen=True)
class Tree:
    messages: tuple[ImportedMessage, ...]  # parents before children, siblings in the source's order
    current_source_id: str | None


def build_tree(nodes: Mapping[str, SourceNode], current_id: str | None) -> Tree:
    """The kept messages with their parents re-attached, and ``current_id`` moved up to the nearest kept node.
    Raises ``MalformedTree`` for a parent that does not exist or a cycle."""
    children: dict[str | None, list[str]] = {}
    for node_id, node in nodes.items():
        if node.parent_id is not None and node.parent_id not in nodes:
            raise MalformedTree(f"message {node_id!r} answers {node.parent_id!r}, which is not in the conversation")
        children.setdefault(node.parent_id, []).append(node_id)
    for parent_id, kids in children.items():
        if parent_id is not None and len(kids) > 1:
            kids.sort(key=_source_order(nodes[parent_id].children))

    kept_parent: dict[str, str | None] = {}  # node id -> the nearest kept node above it (None: it is a first message)
    ordered: list[ImportedMessage] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        node_id = stack.pop()
        node = nodes[node_id]
        above = node.parent_id
        parent_kept = None if above is None else (above if nodes[above].message is not None else kept_parent[above])
        kept_parent[node_id] = parent_kept
        if node.message is not None:
            ordered.append(dataclasses.replace(node.message, source_id=node_id, parent_source_id=parent_kept))
        stack.extend(reversed(children.get(node_id, [])))
    if len(kept_parent) < len(nodes):
        raise MalformedTree("its messages answer each other in a circle")
    return Tree(tuple(ordered), _nearest_kept(nodes, kept_parent, current_id))


def _source_order(listed: Sequence[str]) -> _OrderKey:
    return _OrderKey({child: index for index, child in enumerate(listed)})


@dataclass(frozen=True)
class _OrderKey:
    """Sorts children as their parent lists them; ones it forgot to list come after, in the file's order."""

    index: Mapping[str, int]

    def __call__(self, child: str) -> int:
        return self.index.get(child, len(self.index))


def _nearest_kept(
    nodes: Mapping[str, SourceNode], kept_parent: Mapping[str, str | None], node_id: str | None
) -> str | None:
    if node_id is None or node_id not in nodes:
        return None
    return node_id if nodes[node_id].message is not None else kept_parent[node_id]
