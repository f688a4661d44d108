"""Export and import of a user's history: Parley's format, the round trip, and the import service's guarantees
(all or nothing per conversation, no duplicates, malformed ones reported by name), on both store backends."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from parley.core.history import parley_format as fmt
from parley.core.history.export import HistoryExport, safe_file_name
from parley.core.history.importer import HistoryImporter
from parley.core.history.jobs import ImportJobRunner
from parley.core.store.base import ImportStatus, Message, MessageStatus
from parley.core.store.parts import OpaquePart, TextPart, text_parts
from parley.errors import InvalidInput


def exporter(stores) -> HistoryExport:
    return HistoryExport(stores.conversations, stores.messages, app_version="test")


def importer(stores) -> HistoryImporter:
    return HistoryImporter(stores.conversations, stores.messages, stores.imports)


async def archive_bytes(stores, user_id) -> bytes:
    return b"".join([chunk async for chunk in exporter(stores).archive(user_id)])


def message(id_, parent, role, text, *, at, **extra) -> Message:
    parts = extra.pop("parts", text_parts(text))
    return Message(
        id=id_,
        conversation_id="",
        seq=0,
        role=role,
        parts=parts,
        status=extra.pop("status", MessageStatus.COMPLETE),
        created_at=at,
        updated_at=extra.pop("updated_at", at),
        parent_id=parent,
        **extra,
    )


async def make_history(stores, user_id) -> None:
    """Two conversations; the first a tree with an edited question, a regenerated answer, a part of an unknown
    type, parameters, usage and every kind of ending."""
    tree = await stores.conversations.create_conversation(
        user_id, 'Trees & <branches> / "quoted"', "model-a", created_at=1_700_000_000.123456, updated_at=1_700_000_900.5
    )
    await stores.messages.insert_many(
        user_id,
        tree.id,
        [
            message("m1", None, "system", "Be brief.", at=1_700_000_001.000001),
            message("m2", "m1", "user", "What is a tree?", at=1_700_000_002.25),
            message(
                "m3",
                "m2",
                "assistant",
                "",
                at=1_700_000_003.5,
                updated_at=1_700_000_004.75,
                parts=(TextPart("A graph without cycles."), OpaquePart("image", {"type": "image", "url": "x.png"})),
                model="model-a",
                params={"temperature": 0.2, "max_tokens": 50},
                finish_reason="stop",
                prompt_tokens=12,
                completion_tokens=7,
            ),
            message("m4", "m2", "assistant", "Half an ans", at=1_700_000_005.0, status=MessageStatus.STOPPED),
            message("m5", "m1", "user", "What is a forest? ünïcödé", at=1_700_000_006.0),
            message(
                "m6",
                "m5",
                "assistant",
                "",
                at=1_700_000_007.0,
                status=MessageStatus.ERROR,
                finish_reason="provider_unavailable",
            ),
        ],
    )
    await stores.messages.set_current_leaf(user_id, tree.id, "m3")
    plain = await stores.conversations.create_conversation(user_id, "Plain", "model-b", created_at=1_700_001_000.0)
    await stores.messages.insert_many(user_id, plain.id, [message("q", None, "user", "Hi", at=1_700_001_001.0)])
    await stores.messages.set_current_leaf(user_id, plain.id, "q")


def documents(archive: bytes) -> tuple[dict, list[dict]]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        manifest = json.loads(opened.read("manifest.json"))
        conversations = [json.loads(opened.read(name)) for name in manifest["files"]]
    return manifest, sorted(conversations, key=lambda c: c["created_at"])


def without_conversation_ids(conversations: list[dict]) -> list[dict]:
    return [{key: value for key, value in c.items() if key != "id"} for c in conversations]


async def test_export_import_export_is_equal_but_for_ids_and_twice_imports_once(stores, tmp_path):
    alice = await stores.users.create_user("alice", "hash")
    bob = await stores.users.create_user("bob", "hash")
    await make_history(stores, alice.id)
    first = await archive_bytes(stores, alice.id)
    manifest, exported = documents(first)
    assert (manifest["format"], manifest["version"], manifest["conversations"]) == ("parley-export", 1, 2)
    assert sorted(manifest["files"]) == sorted(f"conversations/{c['id']}.json" for c in exported)
    tree = exported[0]
    assert tree["title"] == 'Trees & <branches> / "quoted"'
    assert tree["created_at"] == "2023-11-14T22:13:20.123456Z"
    assert tree["current_leaf_id"] == "m3"
    assert [(m["id"], m["parent_id"]) for m in tree["messages"]] == [
        ("m1", None),
        ("m2", "m1"),
        ("m3", "m2"),
        ("m4", "m2"),
        ("m5", "m1"),
        ("m6", "m5"),
    ]
    answer = tree["messages"][2]
    assert answer["parts"] == [{"type": "text", "text": "A graph without cycles."}, {"type": "image", "url": "x.png"}]
    assert answer["usage"] == {"prompt_tokens": 12, "completion_tokens": 7}
    assert answer["params"] == {"temperature": 0.2, "max_tokens": 50}
    assert (answer["model"], answer["finish_reason"], answer["updated_at"]) == (
        "model-a",
        "stop",
        "2023-11-14T22:13:24.750000Z",
    )
    assert tree["messages"][3]["status"] == "stopped" and tree["messages"][3]["usage"] is None

    path = tmp_path / "archive.zip"
    path.write_bytes(first)
    result = await importer(stores).run(bob.id, path)
    assert (result.conversations_imported, result.duplicates, result.skipped) == (2, 0, [])
    assert result.bytes_read == result.bytes_total == len(first)

    _, again = documents(await archive_bytes(stores, bob.id))
    assert {c["id"] for c in again}.isdisjoint({c["id"] for c in exported})
    assert without_conversation_ids(again) == without_conversation_ids(exported)

    twice = await importer(stores).run(bob.id, path)
    assert (twice.conversations_imported, twice.duplicates) == (0, 2)
    assert len((await stores.conversations.list_conversations(bob.id, 10, None)).items) == 2


async def test_a_deleted_import_can_be_imported_again(stores, tmp_path):
    alice = await stores.users.create_user("alice", "hash")
    await make_history(stores, alice.id)
    path = tmp_path / "archive.zip"
    path.write_bytes(await archive_bytes(stores, alice.id))
    # Alice imports her own archive: every conversation is new (new ids), then the same file is a duplicate.
    assert (await importer(stores).run(alice.id, path)).conversations_imported == 2
    page = await stores.conversations.list_conversations(alice.id, 10, None)
    assert len(page.items) == 4
    imported = [c for c in page.items if await stores.imports.imported_as(alice.id, "parley", c.id) is None]
    assert len(imported) == 2
    await stores.conversations.delete_conversation(alice.id, imported[0].id)
    again = await importer(stores).run(alice.id, path)
    assert (again.conversations_imported, again.duplicates) == (1, 1)


def archive_of(*documents_: dict, manifest: dict | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        names = []
        for number, document in enumerate(documents_):
            name = f"conversations/c{number}.json"
            zf.writestr(name, json.dumps(document))
            names.append(name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
            names.append(name)
        zf.writestr("manifest.json", json.dumps(manifest or {"format": "parley-export", "version": 1, "files": names}))
    return out.getvalue()


def conversation_doc(title: str, messages: list[dict] | str, **extra) -> dict:
    return {
        "format": "parley-conversation",
        "version": 1,
        "id": extra.pop("id", title),
        "title": title,
        "model": "m",
        "created_at": "2025-01-01T00:00:00.000000Z",
        "updated_at": "2025-01-01T00:00:01.000000Z",
        "current_leaf_id": None,
        "messages": messages,
        **extra,
    }


def message_doc(id_: str, parent: str | None, role: str = "user", text: str = "hi") -> dict:
    return {
        "id": id_,
        "parent_id": parent,
        "role": role,
        "parts": [{"type": "text", "text": text}],
        "status": "complete",
        "created_at": "2025-01-01T00:00:00.500000Z",
        "updated_at": "2025-01-01T00:00:00.500000Z",
        "model": None,
        "params": None,
        "finish_reason": None,
        "usage": None,
    }


async def test_malformed_conversations_are_reported_by_name_and_leave_nothing(stores, tmp_path):
    alice = await stores.users.create_user("alice", "hash")
    path = tmp_path / "mixed.zip"
    path.write_bytes(
        archive_of(
            conversation_doc("Good one", [message_doc("a", None), message_doc("b", "a", "assistant")]),
            conversation_doc("Odd role", [message_doc("a", None), message_doc("b", "a", "wizard")]),
            conversation_doc("Child first", [message_doc("b", "a"), message_doc("a", None)]),
            conversation_doc("Twins", [message_doc("a", None), message_doc("a", None)]),
            conversation_doc("No messages list", "nope"),
            extra={"conversations/broken.json": b"{not json"},
        )
    )
    result = await importer(stores).run(alice.id, path)
    assert result.conversations_imported == 1
    reasons = {s.name: s.reason for s in result.skipped}
    assert set(reasons) == {"Odd role", "Child first", "Twins", "No messages list", "conversations/broken.json"}
    assert "wizard" in reasons["Odd role"] and "before its parent" in reasons["Child first"]
    assert "same id" in reasons["Twins"] and "not valid JSON" in reasons["conversations/broken.json"]
    page = await stores.conversations.list_conversations(alice.id, 10, None)
    assert [c.title for c in page.items] == ["Good one"]
    good = page.items[0]
    assert good.current_leaf_id == "b"  # no current leaf in the file: the newest leaf


async def test_ids_that_parley_cannot_key_are_replaced_and_the_tree_kept(stores, tmp_path):
    alice = await stores.users.create_user("alice", "hash")
    long_id = "x" * 100
    path = tmp_path / "one.json"
    path.write_text(
        json.dumps(
            conversation_doc(
                "Odd ids",
                [message_doc("a#1", None), message_doc(long_id, "a#1", "assistant"), message_doc("c", "a#1")],
                current_leaf_id=long_id,
            )
        )
    )
    assert (await importer(stores).run(alice.id, path)).conversations_imported == 1
    conversation = (await stores.conversations.list_conversations(alice.id, 10, None)).items[0]
    messages = await stores.messages.all_messages(alice.id, conversation.id)
    root, answer, sibling = messages
    assert root.id != "a#1" and answer.parent_id == root.id and sibling.parent_id == root.id
    assert conversation.current_leaf_id == answer.id


async def test_a_failure_while_saving_leaves_nothing_half_imported(stores, tmp_path, monkeypatch):
    alice = await stores.users.create_user("alice", "hash")
    path = tmp_path / "one.json"
    path.write_text(json.dumps(conversation_doc("Doomed", [message_doc("a", None)])))

    async def broken(*_args, **_kwargs):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(stores.messages, "set_current_leaf", broken)
    with pytest.raises(RuntimeError):
        await importer(stores).run(alice.id, path)
    assert (await stores.conversations.list_conversations(alice.id, 10, None)).items == []
    assert await stores.imports.imported_as(alice.id, "parley", "Doomed") is None


async def test_a_newer_format_version_is_a_clear_error(tmp_path):
    path = tmp_path / "future.zip"
    path.write_bytes(archive_of(manifest={"format": "parley-export", "version": 2, "files": []}))
    with pytest.raises(InvalidInput, match="newer Parley \\(format version 2\\)"):
        list(_parley().read(path, _limits()))
    single = tmp_path / "future.json"
    single.write_text(json.dumps(conversation_doc("Future", [], version=3)))
    with pytest.raises(InvalidInput, match="format version 3"):
        list(_parley().read(single, _limits()))


def _parley():
    from parley.core.history.formats.parley import ParleyFormat

    return ParleyFormat()


def _limits():
    from parley.core.history.imported import ImportLimits

    return ImportLimits()


async def test_a_file_that_is_not_what_its_name_says_is_refused(stores, tmp_path):
    alice = await stores.users.create_user("alice", "hash")
    png = tmp_path / "conversations.json"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    with pytest.raises(InvalidInput, match=r"not a file Parley can import.*Parley export"):
        await importer(stores).run(alice.id, png)


async def test_a_json_nested_ten_thousand_deep_is_refused_without_recursing(tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(b'{"format": "parley-conversation", "version": 1, "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}")
    with pytest.raises(InvalidInput, match="nests deeper"):
        list(_parley().read(path, _limits()))


async def test_markdown_has_the_shown_branch_and_says_where_the_others_are(stores):
    alice = await stores.users.create_user("alice", "hash")
    await make_history(stores, alice.id)
    tree = next(
        c for c in (await stores.conversations.list_conversations(alice.id, 10, None)).items if c.title != "Plain"
    )
    exported = await exporter(stores).conversation_markdown(alice.id, tree.id)
    text = exported.content.decode()
    assert text.startswith('# Trees & <branches> / "quoted"\n')
    assert "## System\n\nBe brief." in text and "## User\n\nWhat is a tree?" in text
    assert "## Assistant (model-a)\n\nA graph without cycles." in text
    assert "forest" not in text and "Half an ans" not in text
    assert "the other branches are in the JSON export" in text
    assert exported.file_name == "Trees  branches  quoted.md"
    other = await stores.users.create_user("mallory", "hash")
    assert await exporter(stores).conversation_markdown(other.id, tree.id) is None
    assert await exporter(stores).conversation_json(other.id, tree.id) is None


def test_file_names_from_titles_are_safe():
    assert safe_file_name("../../etc/passwd", "json") == "etcpasswd.json"
    assert safe_file_name('a"b\r\nc', "md") == "abc.md"
    assert safe_file_name("....", "md") == "conversation.md"
    assert safe_file_name("", "json") == "conversation.json"


async def test_the_archive_streams_in_pieces(stores):
    alice = await stores.users.create_user("alice", "hash")
    for number in range(3):
        conversation = await stores.conversations.create_conversation(alice.id, f"c{number}", "m")
        await stores.messages.insert_many(
            alice.id, conversation.id, [message("a", None, "user", "x" * 1000, at=1.0 + number)]
        )
    pieces = [chunk async for chunk in exporter(stores).archive(alice.id)]
    assert len([piece for piece in pieces if piece]) == 4  # one per conversation, then the manifest and directory
    manifest, conversations = documents(b"".join(pieces))
    assert manifest["conversations"] == 3 and len(conversations) == 3


async def test_an_import_job_reports_progress_and_its_end(stores, tmp_path):
    alice = await stores.users.create_user("alice", "hash")
    await make_history(stores, alice.id)
    path = tmp_path / "archive.zip"
    path.write_bytes(await archive_bytes(stores, alice.id))
    bob = await stores.users.create_user("bob", "hash")
    runner = ImportJobRunner(stores.import_jobs, importer(stores))

    job = await stores.import_jobs.create_job(bob.id, "archive.zip", path.stat().st_size)
    done = await runner.run(job, path)
    assert done.status is ImportStatus.DONE and done.conversations_imported == 2
    assert (done.bytes_read, done.bytes_total) == (path.stat().st_size, path.stat().st_size)
    stored = await stores.import_jobs.get_job(bob.id, job.id)
    assert (stored.status, stored.conversations_imported, stored.bytes_read) == (
        ImportStatus.DONE,
        2,
        path.stat().st_size,
    )

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"nothing to see")
    failed = await runner.run(await stores.import_jobs.create_job(bob.id, "junk.bin", 14), junk)
    assert failed.status is ImportStatus.FAILED and "not a file Parley can import" in failed.error
    assert [j.status for j in await stores.import_jobs.list_jobs(bob.id, 10)] == [
        ImportStatus.FAILED,
        ImportStatus.DONE,
    ]
    assert await stores.import_jobs.get_job(alice.id, job.id) is None


def test_times_keep_their_microseconds():
    for moment in (0.0, 1_700_000_000.123456, 1_733_220_000.999999):
        assert fmt.iso(fmt.from_iso(fmt.iso(moment))) == fmt.iso(moment)
    assert fmt.iso(1_700_000_000.5) == "2023-11-14T22:13:20.500000Z"


def test_the_parley_format_is_registered():
    from parley.core.history.imported import import_formats

    assert "parley" in [f.name for f in import_formats()]
