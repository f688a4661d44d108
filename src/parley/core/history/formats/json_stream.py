"""Reading the conversations of a big JSON file one at a time, with bounds on what each may cost.

Exports from other apps are one JSON array of conversations (an app that exports a single conversation may write
the object alone). ``ijson`` yields parse events without holding the file; this module builds each top-level item
from those events itself, rather than with ``ijson.items``, so that the depth and size bounds are checked *while*
the item is built: a JSON nested 10,000 deep is refused at depth ``max_json_depth`` before anything deeper exists
in memory, and an oversized conversation stops growing at its bound. Either one is skipped to its end (counting
brackets, building nothing) and reported as unreadable; the items after it are read as usual.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson

from parley.errors import InvalidInput

HEAD_BYTES = 64 * 1024  # what ``head_shape`` reads: enough for the first keys of any export we know

_SCALARS = frozenset({"string", "number", "boolean", "null"})


@dataclass(frozen=True)
class UnreadableItem:
    """An item skipped because it broke a bound; ``title`` is its "title" if one was read before the bound."""

    reason: str
    title: str | None = None


@dataclass(frozen=True)
class ItemBudget:
    max_depth: int  # counted from the file's root: the top-level array is depth 1
    max_values: int  # objects, arrays and scalars in one item
    # Where an item keeps its messages (paths of keys from the item's root), and how many it may hold: counted as
    # they are read, so that a conversation with too many stops growing at its bound.
    message_containers: frozenset[tuple[str, ...]] = frozenset()
    max_messages: int = 0


@dataclass(frozen=True)
class HeadShape:
    """What the first bytes of a file say: whether it is an array or an object, and the keys seen so far of its
    first item (for an array) or of itself (for an object)."""

    kind: str  # "array", "object" or "" when the head is not the start of a JSON array or object
    keys: frozenset[str]
    first_item_is_object: bool = False


def top_level_items(stream: IO[bytes], budget: ItemBudget) -> Iterator[tuple[int, Any]]:
    """``(position, value)`` for each item of the top-level array (positions count from 1), or for the top-level
    object alone. A value that broke the budget is an ``UnreadableItem``. Raises ``InvalidInput`` when the file
    is not JSON, or is JSON whose top level is neither an array nor an object."""
    events = _events(stream)
    first = next(events)
    if first[0] == "start_map":
        yield 1, _build(first, events, budget, base_depth=1)
        _expect_end(events)
        return
    if first[0] != "start_array":
        raise InvalidInput("The file holds a single JSON value, not a list of conversations.")
    for position, event in enumerate(events, start=1):
        if event[0] == "end_array":
            _expect_end(events)
            return
        yield position, _build(event, events, budget, base_depth=2)


def head_shape(stream: IO[bytes], max_bytes: int = HEAD_BYTES) -> HeadShape:
    """The shape of a file judged by its first ``max_bytes`` (for ``sniff``: never reads the rest)."""
    head = stream.read(max_bytes)
    kind = ""
    keys: set[str] = set()
    first_item_is_object = False
    key_depth = 1  # where the keys that matter live: the object itself, or the first item of the array
    depth = 0
    try:
        for event, value in ijson.basic_parse(io.BytesIO(head), use_float=True):
            if not kind:
                kind = {"start_array": "array", "start_map": "object"}.get(event, "")
                if not kind:
                    break
                key_depth = 2 if kind == "array" else 1
            if event in ("start_map", "start_array"):
                depth += 1
                if kind == "array" and depth == 2:
                    first_item_is_object = event == "start_map"
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth < key_depth:
                    break  # the first item (or the object) is over: its keys are all known
            elif event == "map_key" and depth == key_depth:
                keys.add(value)
            if kind == "array" and depth == 1 and event in _SCALARS:
                break  # a list that starts with a plain value is no export
    except (ijson.JSONError, UnicodeDecodeError):
        pass  # the head ends mid-value, or the file is not JSON: judge by what was read before
    return HeadShape(kind, frozenset(keys), first_item_is_object)


def _events(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """The parse events, with ijson's errors turned into the one error a client is shown."""
    started = False
    try:
        for event in ijson.basic_parse(stream, use_float=True):
            started = True
            yield event
    except ijson.JSONError as error:
        if not started and "premature EOF" in str(error):
            raise InvalidInput("The file is empty.") from error
        raise InvalidInput("The file is not valid JSON (it is damaged or cut short).") from error
    except UnicodeDecodeError as error:
        raise InvalidInput("The file is not UTF-8 text.") from error


def _expect_end(events: Iterator[tuple[str, Any]]) -> None:
    for _ in events:  # the parser itself refuses anything but whitespace after the top-level value
        pass


def _build(first: tuple[str, Any], events: Iterator[tuple[str, Any]], budget: ItemBudget, *, base_depth: int) -> Any:
    """One value whose first event is ``first``, built without recursion; past the budget, the rest of the value is
    skipped and an ``UnreadableItem`` returned instead."""
    event, value = first
    if event in _SCALARS:
        return value
    root: Any = {} if event == "start_map" else []
    watched = {path[:length] for path in budget.message_containers for length in range(len(path) + 1)}
    stack: list[Any] = [root]
    keys: list[str | None] = [None]
    paths: list[tuple[str, ...] | None] = [()]  # a container's path while it may lead to a message container
    counts: list[int] = [-1]  # entries so far of each open message container (-1: not one)
    title: str | None = None
    values = 1
    for event, value in events:
        if event == "map_key":
            keys[-1] = value
            continue
        if event in ("end_map", "end_array"):
            stack.pop()
            keys.pop()
            paths.pop()
            counts.pop()
            if not stack:
                return root
            continue
        values += 1
        opened = event in ("start_map", "start_array")
        problem = None
        if opened and base_depth + len(stack) > budget.max_depth:
            problem = f"it is nested more than {budget.max_depth} levels deep"
        elif values > budget.max_values:
            problem = "it is too large to import"
        elif counts[-1] >= 0:
            counts[-1] += 1
            if counts[-1] > budget.max_messages:
                problem = f"it has more than {budget.max_messages:,} messages"
        if problem is not None:
            _skip(events, depth=len(stack) + opened)
            return UnreadableItem(problem, title)
        node: Any = ({} if event == "start_map" else []) if opened else value
        parent = stack[-1]
        key = keys[-1]
        if isinstance(parent, dict):
            parent[key] = node
            if len(stack) == 1 and key == "title" and isinstance(node, str):
                title = node
        else:
            parent.append(node)
        if opened:
            above = paths[-1]
            path = (*above, key) if above is not None and key is not None and isinstance(parent, dict) else None
            path = path if path in watched else None
            stack.append(node)
            keys.append(None)
            paths.append(path)
            counts.append(0 if path in budget.message_containers else -1)
    raise InvalidInput("The file is not valid JSON (it is cut short).")  # pragma: no cover  (the parser says so first)


def _skip(events: Iterator[tuple[str, Any]], *, depth: int) -> None:
    """Consume events until ``depth`` open containers are closed."""
    for event, _ in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return
