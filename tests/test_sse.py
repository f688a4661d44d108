"""Server-sent events decoded from bytes that arrive in arbitrary pieces."""

from __future__ import annotations

import pytest

from parley.core.providers.sse import ServerSentEvent, SSEDecoder

STREAM = (
    b": a comment the server sends to keep the connection open\n\n"
    b'data: {"a": 1}\n\n'
    b"event: error\r\n"
    b'data: {"error": "x"}\r\n\r\n'
    b"data: first line\n"
    b"data:second line\n"
    b"id: 7\n"
    b"retry: 100\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent(b'{"a": 1}'),
    ServerSentEvent(b'{"error": "x"}', "error"),
    ServerSentEvent(b"first line\nsecond line"),
    ServerSentEvent(b"[DONE]"),
]


def decode(pieces: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return [event for piece in pieces for event in decoder.feed(piece)]


def test_a_whole_stream_at_once() -> None:
    assert decode([STREAM]) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 64])
def test_the_same_events_whatever_the_pieces(size: int) -> None:
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert decode(pieces) == EXPECTED


def test_an_event_is_returned_only_once_its_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}\n') == []
    assert decoder.feed(b"\r") == []
    assert decoder.feed(b"\n") == [ServerSentEvent(b'{"a": 1}')]


def test_the_event_name_does_not_leak_into_the_next_event() -> None:
    assert decode([b"event: ping\ndata: 1\n\ndata: 2\n\n"]) == [ServerSentEvent(b"1", "ping"), ServerSentEvent(b"2")]


def test_blank_lines_without_data_make_no_event() -> None:
    assert decode([b"\n\n\r\n: only a comment\n\n"]) == []
