"""Open WebUI's chat export is read into whole conversation trees, whichever of its shapes the file has: today's
export, the older one holding the chat objects themselves, the oldest with only a flat list of messages, and one
chat exported alone."""

from __future__ import annotations

import json

import pytest

from parley.core.history.formats.openwebui import OpenWebUIExport
from parley.core.history.imported import ImportLimits, MalformedConversation, import_formats
from parley.core.store.base import MessageStatus
from parley.core.store.parts import OpaquePart, text_of
from parley.errors import InvalidInput
from parley.testing.sample_exports import (
    T0,
    chatgpt_conversation,
    message_tree,
    nested_json,
    openwebui_chat,
    read_measuring_memory,
    write_json,
    write_json_array,
)

FORMAT = OpenWebUIExport()
START = int(T0)


def read_all(path, limits=None):
    return list(FORMAT.read(path, limits or ImportLimits()))


def test_the_format_is_registered_by_name():
    assert "openwebui" in [found.name for found in import_formats()]


def test_every_branch_of_the_history_is_kept(tmp_path):
    path = write_json(tmp_path / "chat-export-1714550400000.json", [openwebui_chat()])

    [conversation] = read_all(path)

    assert message_tree(conversation) == [
        ("u1", None, "user", "How do I feed a sourdough starter?"),
        ("a1", "u1", "assistant", "Equal weights of flour and water."),
        ("a1b", "u1", "assistant", "Discard half, then add flour and water 1:1."),
        ("u2", "a1b", "user", "Is mine alive?\n\n[image: jar.png]"),
        ("a2", "u2", "assistant", "Bubbles mean yes."),
        ("u2b", "a1b", "user", "How often should I feed it?"),
        ("a3", "u2b", "assistant", "Once a day at room temperature."),
    ]
    assert conversation.current_source_id == "a3"
    assert (conversation.source, conversation.source_id, conversation.title) == (
        "openwebui",
        "5c3d1e2f-owui",
        "Sourdough starter",
    )
    assert (conversation.created_at, conversation.updated_at) == (START, START + 70)
    assert conversation.model == "llama3.1:8b"
    by_id = {message.source_id: message for message in conversation.messages}
    assert [by_id[key].model for key in ("u1", "a1b", "a3")] == [None, "llama3.1:8b", "qwen2.5:7b"]
    assert [by_id[key].created_at for key in ("u1", "a1", "a3")] == [START + 10, START + 20, START + 70]
    assert (by_id["a1b"].prompt_tokens, by_id["a1b"].completion_tokens) == (12, 9)
    # the photo is named, and described in an opaque part without its megabytes of base64
    [kept] = [part for part in by_id["u2"].parts if isinstance(part, OpaquePart)]
    assert kept.to_json() == {
        "type": "openwebui_file",
        "file": {"type": "image", "url": "data:image/png;base64,(not imported)", "name": "jar.png"},
    }


def test_the_older_export_of_bare_chat_objects_with_times_in_ms(tmp_path):
    item = openwebui_chat()["chat"]
    item.update(id="legacy-1", title="Legacy chat", timestamp=START * 1000)
    for message in item["history"]["messages"].values():
        message["timestamp"] = int(message["timestamp"] * 1000)
    path = write_json(tmp_path / "export.json", [item])

    [conversation] = read_all(path)

    assert conversation.source_id == "legacy-1" and conversation.title == "Legacy chat"
    assert conversation.created_at == START and conversation.updated_at == START
    assert [message.created_at for message in conversation.messages][:2] == [START + 10, START + 20]
    assert len(conversation.messages) == 7 and conversation.current_source_id == "a3"


def test_the_oldest_export_with_only_a_flat_list_is_chained_in_order(tmp_path):
    item = {
        "id": "oldest-1",
        "title": "Ollama WebUI days",
        "models": ["llama2:7b"],
        "messages": [
            {"role": "user", "content": "Hello", "timestamp": START},
            {"role": "assistant", "content": "Hi there", "model": "llama2:7b", "done": True, "timestamp": START + 1},
            {"role": "user", "content": "Bye", "timestamp": START + 2},
            {"role": "assistant", "content": "See yo", "done": False, "timestamp": START + 3},
        ],
        "timestamp": START * 1000,
    }
    path = write_json(tmp_path / "export.json", [item])

    [conversation] = read_all(path)

    assert message_tree(conversation) == [
        ("message-1", None, "user", "Hello"),
        ("message-2", "message-1", "assistant", "Hi there"),
        ("message-3", "message-2", "user", "Bye"),
        ("message-4", "message-3", "assistant", "See yo"),
    ]
    assert conversation.current_source_id == "message-4"
    assert conversation.messages[3].status is MessageStatus.INTERRUPTED
    assert conversation.model == "llama2:7b"


def test_one_chat_exported_alone_as_an_object(tmp_path):
    path = write_json(tmp_path / "one.json", openwebui_chat("solo-1", "Alone"))
    assert FORMAT.sniff(path)
    [conversation] = read_all(path)
    assert conversation.source_id == "solo-1" and len(conversation.messages) == 7


def test_a_failed_answer_keeps_its_error(tmp_path):
    chat = openwebui_chat()
    messages = chat["chat"]["history"]["messages"]
    messages["a3"].update(content="", error={"content": "Ollama: model 'qwen2.5:7b' not found"})
    path = write_json(tmp_path / "export.json", [chat])

    [conversation] = read_all(path)

    failed = conversation.messages[-1]
    assert text_of(failed.parts) == "*Ollama: model 'qwen2.5:7b' not found*"
    assert (failed.status, failed.finish_reason) == (MessageStatus.ERROR, "error")


def test_a_broken_chat_is_reported_by_name_and_the_others_still_come(tmp_path):
    orphan = openwebui_chat("orphan-1", "Lost parent")
    orphan["chat"]["history"]["messages"]["a3"]["parentId"] = "gone"
    empty = openwebui_chat("empty-1", "Nothing here")
    empty["chat"]["history"] = {"messages": {}, "currentId": None}
    empty["chat"]["messages"] = []
    deep = '{"title": "Too deep", "chat": ' + nested_json(10_000) + "}"
    path = tmp_path / "export.json"
    path.write_text(
        "["
        + ",".join([json.dumps(openwebui_chat("ok-1", "First")), json.dumps(orphan), json.dumps(empty), deep])
        + ","
        + json.dumps(openwebui_chat("ok-2", "Last"))
        + "]"
    )

    items = read_all(path)

    assert [getattr(item, "source_id", None) for item in items] == ["ok-1", None, None, None, "ok-2"]
    assert items[1:4] == [
        MalformedConversation(
            "Lost parent", "It could not be read: message 'a3' answers 'gone', which is not in the conversation."
        ),
        MalformedConversation("Nothing here", "It could not be read: it has no messages."),
        MalformedConversation("Too deep", "It could not be read: it is nested more than 64 levels deep."),
    ]


def test_too_many_messages_is_reported(tmp_path):
    path = write_json(tmp_path / "export.json", [openwebui_chat()])
    assert read_all(path, ImportLimits(max_messages_per_conversation=6)) == [
        MalformedConversation("Sourdough starter", "It could not be read: it has more than 6 messages.")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 a zip renamed .json", "not valid JSON"),
        (b"[1, 2, 3]", "not an Open WebUI chat export"),
        (b'[{"title": "x", "mapping": {}}]', "not an Open WebUI chat export"),
        (b"   ", "empty"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused_clearly(tmp_path, content, message):
    path = tmp_path / "chat-export.json"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        read_all(path)


def test_sniff_knows_open_webui_by_content(tmp_path):
    assert FORMAT.sniff(write_json(tmp_path / "a.bin", [openwebui_chat()]))
    assert FORMAT.sniff(write_json(tmp_path / "b.json", [openwebui_chat()["chat"]]))  # the older shape
    assert not FORMAT.sniff(write_json(tmp_path / "c.json", [chatgpt_conversation()]))
    parley = {"format": "parley-conversation", "version": 1, "chat": {}, "history": {}}
    assert not FORMAT.sniff(write_json(tmp_path / "d.json", parley))
    assert not FORMAT.sniff(write_json(tmp_path / "e.json", [["chat"]]))
    (tmp_path / "f.json").write_bytes(b"\x00\x01binary")
    assert not FORMAT.sniff(tmp_path / "f.json")


def test_reading_does_not_hold_the_whole_file_in_memory(tmp_path):
    filler = "Knead, fold, rest. " * 2800  # ~50 KB per answer

    def chats():
        for index in range(260):
            chat = openwebui_chat(f"chat-{index}", f"Chat {index}")
            for message in chat["chat"]["history"]["messages"].values():
                if message["role"] == "assistant":
                    message["content"] = filler
            chat["chat"]["messages"] = []  # the flat copy of the path would only double the size
            yield chat

    path = write_json_array(tmp_path / "big.json", chats())
    size = path.stat().st_size
    assert size > 50 * 1024 * 1024

    count, peak = read_measuring_memory(FORMAT, path)

    assert count == 260
    assert peak < size / 20


def test_an_item_that_is_no_open_webui_message_is_named(tmp_path):
    chat = openwebui_chat()
    chat["chat"]["history"]["messages"]["a2"] = "not an object"
    path = write_json(tmp_path / "export.json", [chat])
    assert read_all(path) == [
        MalformedConversation("Sourdough starter", "It could not be read: message 'a2' is not an object.")
    ]


def test_a_chat_exported_without_an_id_gets_one_that_is_stable_across_imports(tmp_path):
    first, second = openwebui_chat()["chat"], openwebui_chat(title="Rye starter")["chat"]
    first.update(id="", timestamp=START * 1000)
    second.update(id="", title="Rye starter", timestamp=START * 1000)
    path = write_json(tmp_path / "export.json", [first, second])

    ids = [conversation.source_id for conversation in read_all(path)]

    assert ids == [conversation.source_id for conversation in read_all(path)]
    assert len(set(ids)) == 2 and all(source_id.startswith("sha256:") for source_id in ids)


def test_newer_exports_with_the_answer_in_output_items_and_the_current_id_beside_the_chat(tmp_path):
    chat = openwebui_chat()
    answer = chat["chat"]["history"]["messages"]["a2"]
    answer.update(
        content="",
        output=[
            {"type": "reasoning", "summary": []},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Bubbles, "}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "so yes."}]},
        ],
    )
    del chat["chat"]["history"]["currentId"]
    chat["current_message_id"] = "a2"
    path = write_json(tmp_path / "export.json", [chat])

    [conversation] = read_all(path)

    texts = {message_id: text for message_id, _, _, text in message_tree(conversation)}
    assert texts["a2"] == "Bubbles, \nso yes."
    assert conversation.current_source_id == "a2"
