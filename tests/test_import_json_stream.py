"""The streaming reader both import formats use: items one at a time, bounds enforced while an item is built, and
times in whatever unit an export wrote them."""

from __future__ import annotations

import io

import pytest

from parley.core.history.formats.json_stream import ItemBudget, UnreadableItem, head_shape, top_level_items
from parley.core.history.formats.values import epoch_seconds, fenced
from parley.errors import InvalidInput

BUDGET = ItemBudget(max_depth=8, max_values=20)


def items(data: bytes, budget: ItemBudget = BUDGET):
    return list(top_level_items(io.BytesIO(data), budget))


def test_items_come_one_by_one_with_their_positions():
    assert items(b'[{"a": [1, 2.5, "x"]}, {"b": {"c": null, "d": true}}]') == [
        (1, {"a": [1, 2.5, "x"]}),
        (2, {"b": {"c": None, "d": True}}),
    ]
    assert items(b'{"title": "alone"}') == [(1, {"title": "alone"})]
    assert items(b"[]") == []


def test_an_item_past_the_value_bound_is_skipped_whole_and_named():
    big = b'{"title": "Huge", "n": [' + b",".join(b"1" for _ in range(50)) + b"]}"
    assert items(b"[" + big + b', {"title": "Small"}]') == [
        (1, UnreadableItem("it is too large to import", "Huge")),
        (2, {"title": "Small"}),
    ]


def test_an_item_past_the_depth_bound_is_skipped_whole_and_named():
    deep = b'{"title": "Deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert items(b"[" + deep + b", [[1]]]") == [
        (1, UnreadableItem("it is nested more than 8 levels deep", "Deep")),
        (2, [[1]]),
    ]
    # the top-level array counts as a level: an item may hold max_depth - 1 levels
    assert items(b"[" + b"[" * 7 + b"]" * 7 + b"]")[0][1] == [[[[[[[]]]]]]]
    assert isinstance(items(b"[" + b"[" * 8 + b"]" * 8 + b"]")[0][1], UnreadableItem)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n  ", "empty"),
        (b'[{"a": 1}', "not valid JSON"),
        (b'{"a": 1} trailing', "not valid JSON"),
        (b"\xff\xfe[]", "not valid JSON"),
        (b"42", "single JSON value"),
    ],
)
def test_what_is_not_a_json_list_or_object_is_refused(data, message):
    with pytest.raises(InvalidInput, match=message):
        items(data)


def test_the_head_tells_the_first_items_keys_without_reading_on():
    head = head_shape(io.BytesIO(b'[{"title": "t", "mapping": {"a": {"deep": 1}}, "x": "' + b"y" * 200_000))
    assert (head.kind, head.keys, head.first_item_is_object) == ("array", frozenset({"title", "mapping", "x"}), True)
    assert head_shape(io.BytesIO(b'{"format": "parley-conversation", "chat": 1}')).keys == {"format", "chat"}
    assert head_shape(io.BytesIO(b"[1, {")).first_item_is_object is False
    assert head_shape(io.BytesIO(b"GIF89a")).kind == ""


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1_714_550_400, 1_714_550_400.0),
        (1_714_550_400.25, 1_714_550_400.25),
        (1_714_550_400_123, 1_714_550_400.123),  # ms
        (1_714_550_400_123_456, 1_714_550_400.123456),  # µs
        (1_714_550_400_123_456_789, 1_714_550_400.1234567),  # ns
        ("2024-05-01T08:00:00Z", 1_714_550_400.0),
        (None, None),
        (True, None),
        (-5, None),
        ("soon", None),
        (float("nan"), None),
    ],
)
def test_times_in_any_unit_become_seconds(value, seconds):
    result = epoch_seconds(value)
    assert result == pytest.approx(seconds) if seconds is not None else result is None


def test_code_fences_outgrow_the_backticks_inside():
    assert fenced("print(1)\n", "python") == "```python\nprint(1)\n```"
    assert fenced("a ```` b") == "`````\na ```` b\n`````"


def test_messages_are_counted_while_read_and_a_conversation_with_too_many_stops_there():
    budget = ItemBudget(
        max_depth=8, max_values=1000, message_containers=frozenset({("chat", "messages")}), max_messages=3
    )
    few = b'{"title": "Few", "chat": {"messages": [{"a": 1}, {"b": 2}, {"c": 3}], "other": [1, 2, 3, 4, 5]}}'
    many = b'{"title": "Many", "chat": {"messages": [{}, {}, {}, {}, {}]}}'
    elsewhere = b'{"title": "Elsewhere", "messages": [1, 2, 3, 4, 5], "chat": {"x": {"messages": [1, 2, 3, 4]}}}'
    read = items(b"[" + b",".join([few, many, elsewhere]) + b"]", budget)
    assert read[0][1]["chat"]["messages"] == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert read[1] == (2, UnreadableItem("it has more than 3 messages", "Many"))
    assert read[2][1]["title"] == "Elsewhere"  # only the container at that path is counted
