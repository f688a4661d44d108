"""ChatGPT's data export is read into whole conversation trees: every branch, the right parents, content that can be
read, and the conversations that cannot be read reported by name while the rest still come."""

from __future__ import annotations

import json
import zipfile

import pytest

from parley.core.history.formats.chatgpt import ChatGPTExport
from parley.core.history.imported import ImportedConversation, ImportLimits, MalformedConversation, import_formats
from parley.core.store.base import MessageStatus
from parley.core.store.parts import OpaquePart, TextPart, text_of
from parley.errors import InvalidInput
from parley.testing.sample_exports import (
    T0,
    chatgpt_conversation,
    chatgpt_conversation_record,
    chatgpt_mapping,
    chatgpt_message,
    chatgpt_zip,
    message_tree,
    nested_json,
    read_measuring_memory,
    text,
    write_json,
    write_json_array,
    zip_bomb,
)

FORMAT = ChatGPTExport()


def read_all(path, limits=None):
    return list(FORMAT.read(path, limits or ImportLimits()))


def test_the_format_is_registered_by_name():
    assert "chatgpt" in [found.name for found in import_formats()]


def test_every_branch_is_kept_and_skipped_nodes_hand_their_children_up(tmp_path):
    path = write_json(tmp_path / "conversations.json", [chatgpt_conversation()])

    [conversation] = read_all(path)

    assert message_tree(conversation) == [
        # the null root and the hidden system prompt are gone; the first prompt is a first message
        ("u1", None, "user", "Plan a weekend in Lisbon."),
        ("a1", "u1", "assistant", "Day 1: Alfama. Day 2: Belém."),
        # the prompt as first sent, and both of its answers (the regenerated one second, as ChatGPT shows it)
        ("u2", "a1", "user", "Make it cheaper."),
        ("a2", "u2", "assistant", "Walk everywhere."),
        ("a2b", "u2", "assistant", "Take the tram 28."),
        # the edited prompt: a photo, code the model ran, the tool's output, the answer
        ("u2b", "a1", "user", "What is this tower?\n\n[image: file-Tower1]"),
        ("code", "u2b", "assistant", "```python\nprint(1500 + 19)\n```"),
        ("run", "code", "assistant", "**python**\n\n```\n1519\n```"),
        ("a3", "run", "assistant", "The Belém Tower, built in 1519."),
    ]
    assert conversation.current_source_id == "a2b"
    assert (conversation.source, conversation.source_id) == ("chatgpt", "67a1c0de-trip")
    assert conversation.title == "Weekend in Lisbon"
    assert (conversation.created_at, conversation.updated_at) == (T0, T0 + 3600.5)
    assert conversation.model == "gpt-4o"
    by_id = {message.source_id: message for message in conversation.messages}
    assert [by_id[key].model for key in ("u1", "a1", "a2", "a2b")] == [None, "gpt-4o", "gpt-4o", "gpt-4o-mini"]
    assert [by_id[key].created_at for key in ("u1", "a1", "a3")] == [T0 + 10, T0 + 20, T0 + 80]
    assert by_id["a1"].finish_reason == "stop" and by_id["a1"].status is MessageStatus.COMPLETE
    # the photo is named in the text and its pointer kept whole, for a later version to fetch from the zip
    [kept] = [part for part in by_id["u2b"].parts if isinstance(part, OpaquePart)]
    assert kept.type == "chatgpt_asset"
    assert kept.to_json()["asset"]["asset_pointer"] == "file-service://file-Tower1"


def test_a_current_node_that_is_skipped_moves_up_to_its_nearest_kept_ancestor(tmp_path):
    m = chatgpt_message
    mapping = chatgpt_mapping(
        [
            ("root", None, None),
            ("u1", "root", m("user", text("Hi"), at=T0)),
            ("a1", "u1", m("assistant", text("Hello!"), at=T0 + 1, model="gpt-4o")),
            ("memo", "a1", m("assistant", {"content_type": "model_editable_context"}, at=T0 + 2, hidden=True)),
        ]
    )
    path = write_json(tmp_path / "c.json", [chatgpt_conversation_record("Hi", mapping, "memo", conversation_id="c1")])

    [conversation] = read_all(path)

    assert conversation.current_source_id == "a1"
    assert [message.source_id for message in conversation.messages] == ["u1", "a1"]


def test_every_content_type_becomes_something_a_person_can_read(tmp_path):
    m = chatgpt_message
    chain = [
        (
            "custom",
            m(
                "user",
                {
                    "content_type": "user_editable_context",
                    "user_profile": "I am a baker.",
                    "user_instructions": "Be brief.",
                },
                at=T0,
                hidden=True,
            ),
        ),
        (
            "voice",
            m(
                "user",
                {
                    "content_type": "multimodal_text",
                    "parts": [
                        {"content_type": "audio_transcription", "text": "find me a recipe", "direction": "in"},
                        {"content_type": "audio_asset_pointer", "asset_pointer": "sediment://file_00aa"},
                    ],
                },
                at=T0 + 1,
            ),
        ),
        (
            "think",
            m(
                "assistant",
                {
                    "content_type": "thoughts",
                    "thoughts": [
                        {"summary": "Choosing bread", "content": "Rye is easy.", "chunks": [], "finished": True}
                    ],
                    "source_analysis_msg_id": "x",
                },
                at=T0 + 2,
                model="o3",
            ),
        ),
        (
            "recap",
            m(
                "assistant",
                {"content_type": "reasoning_recap", "content": "Thought for 4 seconds"},
                at=T0 + 3,
                model="o3",
            ),
        ),
        (
            "search",
            m(
                "assistant",
                {"content_type": "code", "language": "unknown", "text": 'search("rye bread")'},
                at=T0 + 4,
                model="o3",
                recipient="browser",
            ),
        ),
        (
            "browse",
            m(
                "tool",
                {
                    "content_type": "tether_browsing_display",
                    "result": "【0†Rye bread†example.com】",
                    "summary": None,
                    "assets": None,
                },
                at=T0 + 5,
                name="browser",
            ),
        ),
        (
            "quote",
            m(
                "tool",
                {
                    "content_type": "tether_quote",
                    "url": "https://example.com/rye",
                    "domain": "example.com",
                    "text": "Mix.\nBake.",
                    "title": "Rye bread",
                },
                at=T0 + 6,
                name="browser",
            ),
        ),
        (
            "oops",
            m(
                "tool",
                {"content_type": "system_error", "name": "tool_error", "text": "Timed out"},
                at=T0 + 7,
                name="browser",
            ),
        ),
        (
            "odd",
            m(
                "assistant",
                {"content_type": "app_pairing_content", "workspaces": [1]},
                at=T0 + 8,
                model="o3",
                status="in_progress",
            ),
        ),
        ("stopped", m("assistant", text("Rye needs"), at=T0 + 9, model="o3", finish="interrupted")),
        ("long", m("assistant", text("Knead " * 3), at=T0 + 10, model="o3", finish="max_tokens")),
    ]
    nodes = [("root", None, None)]
    parent = "root"
    for node_id, message in chain:
        nodes.append((node_id, parent, message))
        parent = node_id
    record = chatgpt_conversation_record("Bread", chatgpt_mapping(nodes), "long", conversation_id="c-bread")
    path = write_json(tmp_path / "c.json", [record])

    [conversation] = read_all(path)
    by_id = {message.source_id: message for message in conversation.messages}

    assert [message.source_id for message in conversation.messages] == [node_id for node_id, _ in chain]
    assert by_id["custom"].role == "system"
    assert text_of(by_id["custom"].parts) == "About me:\nI am a baker.\n\nHow to answer:\nBe brief."
    assert text_of(by_id["voice"].parts) == "find me a recipe\n\n[audio: file_00aa]"
    assert text_of(by_id["think"].parts) == "**Choosing bread**\n\nRye is easy."
    assert text_of(by_id["recap"].parts) == "*Thought for 4 seconds*"
    assert text_of(by_id["search"].parts) == '```\nsearch("rye bread")\n```'
    assert text_of(by_id["browse"].parts) == "**browser**\n\n【0†Rye bread†example.com】"
    assert text_of(by_id["quote"].parts) == "**browser**\n\n[Rye bread](https://example.com/rye)\n\n> Mix.\n> Bake."
    assert text_of(by_id["oops"].parts) == "**browser**\n\n*Error: tool_error: Timed out*"
    # a type this reader does not know is named, and kept whole
    assert text_of(by_id["odd"].parts) == "[app pairing content]"
    assert by_id["odd"].parts[1] == OpaquePart(
        "chatgpt_content",
        {"type": "chatgpt_content", "content": {"content_type": "app_pairing_content", "workspaces": [1]}},
    )
    assert by_id["odd"].status is MessageStatus.INTERRUPTED
    assert (by_id["stopped"].status, by_id["stopped"].finish_reason) == (MessageStatus.STOPPED, "stopped")
    assert (by_id["long"].status, by_id["long"].finish_reason) == (MessageStatus.COMPLETE, "length")
    assert {message.role for message in conversation.messages} == {"system", "user", "assistant"}


def test_a_broken_conversation_is_reported_by_name_and_the_others_still_come(tmp_path):
    m = chatgpt_message
    good_before = chatgpt_conversation("c-before", "Before")
    orphan = chatgpt_conversation_record(
        "Orphaned answer",
        {
            "u1": {"id": "u1", "message": {**m("user", text("Hi"), at=T0), "id": "u1"}, "parent": None, "children": []},
            "a1": {
                "id": "a1",
                "message": {**m("assistant", text("Yo"), at=T0), "id": "a1"},
                "parent": "ghost",
                "children": [],
            },
        },
        "a1",
        conversation_id="c-orphan",
    )
    circle = chatgpt_conversation_record(
        "Going in circles",
        {
            "root": {"id": "root", "message": None, "parent": None, "children": []},
            "x": {"id": "x", "message": {**m("user", text("x"), at=T0), "id": "x"}, "parent": "y", "children": ["y"]},
            "y": {
                "id": "y",
                "message": {**m("assistant", text("y"), at=T0), "id": "y"},
                "parent": "x",
                "children": ["x"],
            },
        },
        "x",
        conversation_id="c-circle",
    )
    no_tree = {"title": "No tree at all", "create_time": T0, "mapping": None, "id": "c-none"}
    untitled = {"mapping": {}, "id": "c-untitled"}
    good_after = chatgpt_conversation("c-after", "After")
    path = write_json(
        tmp_path / "c.json", [good_before, orphan, circle, no_tree, untitled, "not an object", good_after]
    )

    items = read_all(path)

    assert [type(item).__name__ for item in items] == [
        "ImportedConversation",
        *["MalformedConversation"] * 5,
        "ImportedConversation",
    ]
    assert [item.source_id for item in items if isinstance(item, ImportedConversation)] == ["c-before", "c-after"]
    malformed = {item.name: item.reason for item in items if isinstance(item, MalformedConversation)}
    assert (
        malformed["Orphaned answer"]
        == "It could not be read: message 'a1' answers 'ghost', which is not in the conversation."
    )
    assert malformed["Going in circles"] == "It could not be read: its messages answer each other in a circle."
    assert malformed["No tree at all"] == "It could not be read: it has no messages (its message tree is missing)."
    assert "Conversation 5" in malformed  # no title: named by its place in the file
    assert malformed["Conversation 6"] == "It is not a conversation (a JSON object was expected)."


def test_too_many_messages_is_reported_not_read(tmp_path):
    path = write_json(tmp_path / "c.json", [chatgpt_conversation("c-big", "Big"), chatgpt_conversation("c-ok", "Ok")])

    items = read_all(path, ImportLimits(max_messages_per_conversation=5))

    assert items[0] == MalformedConversation("Big", "It could not be read: it has more than 5 messages.")
    assert items[1] == MalformedConversation("Ok", "It could not be read: it has more than 5 messages.")
    assert len(read_all(path, ImportLimits(max_messages_per_conversation=11))) == 2


def test_the_zip_chatgpt_sends_is_read_from_its_root_or_a_folder(tmp_path):
    for folder in ("", "7f1e2d-2024-05-01-12-00-00"):
        path = chatgpt_zip(tmp_path / f"export{len(folder)}.zip", [chatgpt_conversation()], folder=folder)
        assert FORMAT.sniff(path)
        [conversation] = read_all(path)
        assert conversation.source_id == "67a1c0de-trip" and len(conversation.messages) == 9


def test_a_zip_without_conversations_is_refused_clearly(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes/conversations.json.bak", "[]")
        archive.writestr("a/b/conversations.json", "[]")  # two folders deep: not where ChatGPT puts it
    assert not FORMAT.sniff(path)
    with pytest.raises(InvalidInput, match=r"no conversations\.json"):
        read_all(path)


def test_a_zip_bomb_is_refused_while_reading(tmp_path):
    path = zip_bomb(tmp_path / "bomb.zip", inflated_bytes=8 * 1024 * 1024)
    assert FORMAT.sniff(path)  # it is laid out as ChatGPT's zip: reading it says what is wrong
    with pytest.raises(InvalidInput, match="zip bomb"):
        read_all(path)


def test_json_nested_ten_thousand_deep_is_reported_not_crashed_on(tmp_path):
    deep = '{"title": "Deep one", "mapping": ' + nested_json(10_000) + "}"
    path = tmp_path / "deep.json"
    path.write_text("[" + deep + "," + json.dumps(chatgpt_conversation()) + "]")

    items = read_all(path)

    assert items[0] == MalformedConversation("Deep one", "It could not be read: it is nested more than 64 levels deep.")
    assert isinstance(items[1], ImportedConversation)


def test_a_file_nested_deep_from_its_first_byte_is_reported_too(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(nested_json(10_000))
    assert read_all(path) == [
        MalformedConversation("Conversation 1", "It could not be read: it is nested more than 64 levels deep.")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n binary", "not valid JSON"),
        (b'[{"mapping": {}}, {"mapping"', "not valid JSON"),
        (b"", "empty"),
        (b'"just a string"', "single JSON value"),
        (b'[{"messages": []}]', "not a ChatGPT data export"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused_clearly(tmp_path, content, message):
    path = tmp_path / "conversations.json"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        read_all(path)


def test_reading_does_not_hold_the_whole_file_in_memory(tmp_path):
    filler = text("Lorem ipsum dolor sit amet. " * 1800)  # ~50 KB of answer text per message

    def conversations():
        for index in range(210):
            record = chatgpt_conversation(f"c-{index}", f"Conversation {index}")
            for node in record["mapping"].values():
                if node["message"] and node["message"]["author"]["role"] == "assistant":
                    node["message"]["content"] = filler
            yield record

    path = write_json_array(tmp_path / "big.json", conversations())
    size = path.stat().st_size
    assert size > 50 * 1024 * 1024

    count, peak = read_measuring_memory(FORMAT, path)

    assert count == 210
    assert peak < size / 20  # one conversation at a time, not the file


def test_sniff_knows_chatgpt_by_content_not_by_name(tmp_path):
    export = write_json(tmp_path / "whatever.txt", [chatgpt_conversation()])
    assert FORMAT.sniff(export)
    parley_json = write_json(
        tmp_path / "conversations.json", {"format": "parley-conversation", "version": 1, "mapping": {}}
    )
    assert not FORMAT.sniff(parley_json)
    parley_zip = tmp_path / "parley.zip"
    with zipfile.ZipFile(parley_zip, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "parley-export", "version": 1}))
        archive.writestr("conversations/abc.json", json.dumps({"format": "parley-conversation"}))
    assert not FORMAT.sniff(parley_zip)
    openwebui = write_json(tmp_path / "conversations2.json", [{"id": "x", "title": "t", "chat": {"history": {}}}])
    assert not FORMAT.sniff(openwebui)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(100))
    assert not FORMAT.sniff(tmp_path / "photo.jpg")


def test_sniff_reads_only_the_head_of_a_big_file(tmp_path):
    # The first item's mapping is far bigger than the head: the key is seen before it, which is enough.
    record = chatgpt_conversation()
    record = {"title": record["title"], "mapping": record["mapping"], "padding": "x" * 500_000}
    path = write_json(tmp_path / "c.json", [record])
    assert FORMAT.sniff(path)


def test_text_parts_are_one_text_part_then_kept_objects():
    # The shape the store and the web app rely on: the readable text first, opaque parts after it.
    from parley.core.history.formats.chatgpt import _parts

    parts = _parts(
        {
            "content_type": "multimodal_text",
            "parts": ["Look", {"content_type": "image_asset_pointer", "asset_pointer": "file-service://f1"}, "here"],
        }
    )
    assert isinstance(parts[0], TextPart) and parts[0].text == "Look\n\n[image: f1]\n\nhere"
    assert [part.type for part in parts[1:]] == ["chatgpt_asset"]


def test_a_conversation_without_an_id_gets_one_that_is_stable_across_imports(tmp_path):
    record = chatgpt_conversation()
    del record["id"], record["conversation_id"]
    path = write_json(tmp_path / "c.json", [record])
    [first], [again] = read_all(path), read_all(path)
    assert first.source_id.startswith("sha256:") and first.source_id == again.source_id


def test_branches_come_in_the_order_their_parent_lists_them_not_the_files(tmp_path):
    record = chatgpt_conversation()
    record["mapping"]["a1"]["children"] = ["u2b", "u2"]  # ChatGPT shows the edited prompt first
    path = write_json(tmp_path / "c.json", [record])

    [conversation] = read_all(path)

    assert [message.source_id for message in conversation.messages] == [
        *["u1", "a1"],
        *["u2b", "code", "run", "a3"],
        *["u2", "a2", "a2b"],
    ]
