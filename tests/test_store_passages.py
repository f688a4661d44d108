"""The passage index, one behaviour on both backends (SQLite FTS5; DynamoDB with a prebuilt index, in moto)."""

from __future__ import annotations

from parley.core.files.base import ExtractedDocument
from parley.core.retrieval.chunking import chunk_document

GARDEN = "\n\n".join(
    [
        "The garden has roses, tulips and a small pond with goldfish. " * 14,
        "Watering happens every Tuesday morning before the heat of the day arrives. " * 14,
        "The shed holds a lawnmower, two rakes and a very old wheelbarrow. " * 14,
    ]
)
KITCHEN = "The kitchen oven bakes sourdough bread at two hundred and thirty degrees. " * 20


async def test_documents_are_indexed_and_read_back_in_order(stores):
    alice = await stores.users.create_user("alice", "h")
    passages = chunk_document("garden", ExtractedDocument(GARDEN))
    await stores.passages.add_document(alice.id, "garden", passages, None)
    assert await stores.passages.passages(alice.id, "garden") == passages


async def test_search_ranks_by_keywords_within_the_attached_documents_of_their_owner(stores):
    alice = await stores.users.create_user("alice", "h")
    bob = await stores.users.create_user("bob", "h")
    garden = chunk_document("garden", ExtractedDocument(GARDEN))
    kitchen = chunk_document("kitchen", ExtractedDocument(KITCHEN))
    await stores.passages.add_document(alice.id, "garden", garden, None)
    await stores.passages.add_document(alice.id, "kitchen", kitchen, None)
    await stores.passages.add_document(bob.id, "bobs", chunk_document("bobs", ExtractedDocument(GARDEN)), None)

    hits = await stores.passages.search(alice.id, ["garden", "kitchen"], "When is the WATERING done?", 3)
    assert hits[0].passage.file_id == "garden"
    assert "Watering" in hits[0].passage.text
    assert hits == sorted(hits, key=lambda hit: -hit.score)

    assert await stores.passages.search(alice.id, ["garden"], "sourdough oven", 5) == []  # not attached
    found = await stores.passages.search(alice.id, ["kitchen"], "sourdough oven", 5)
    assert {hit.passage.file_id for hit in found} == {"kitchen"}
    # Another user's document is not there, even by its id.
    assert await stores.passages.search(alice.id, ["bobs"], "watering", 5) == []
    assert await stores.passages.passages(alice.id, "bobs") == []
    # Query text is never syntax.
    assert await stores.passages.search(alice.id, ["garden"], 'NEAR(" OR * AND', 5) == []


async def test_vectors_are_fused_with_keywords(stores):
    alice = await stores.users.create_user("alice", "h")
    garden = chunk_document("garden", ExtractedDocument(GARDEN))
    assert len(garden) >= 3
    # The first passage points where the query vector points; no passage has the query's words.
    vectors = [[1.0, 0.0, 0.0] if p.index == 0 else [0.0, 1.0, 0.0] for p in garden]
    await stores.passages.add_document(alice.id, "garden", garden, vectors)
    hits = await stores.passages.search(alice.id, ["garden"], "blossoms", 2, query_vector=[0.9, 0.1, 0.0])
    assert hits[0].passage.index == 0
    # Keywords and the vector agreeing on a passage put it first.
    best = (await stores.passages.search(alice.id, ["garden"], "Tuesday", 1))[0].passage
    vectors = [[1.0, 0.0, 0.0] if p.index == best.index else [0.0, 1.0, 0.0] for p in garden]
    await stores.passages.add_document(alice.id, "garden", garden, vectors)
    hits = await stores.passages.search(alice.id, ["garden"], "Tuesday", 3, query_vector=[1.0, 0.0, 0.0])
    assert hits[0].passage == best
    assert hits[0].score == 2 / 61
    # A query vector of another model's size matches nothing, and keywords still do.
    hits = await stores.passages.search(alice.id, ["garden"], "Tuesday", 3, query_vector=[1.0, 0.0])
    assert hits[0].passage == best


async def test_a_document_indexed_again_replaces_its_passages_and_delete_removes_them(stores):
    alice = await stores.users.create_user("alice", "h")
    await stores.passages.add_document(alice.id, "doc", chunk_document("doc", ExtractedDocument(GARDEN)), None)
    kitchen = chunk_document("doc", ExtractedDocument(KITCHEN))
    await stores.passages.add_document(alice.id, "doc", kitchen, None)
    assert await stores.passages.passages(alice.id, "doc") == kitchen
    assert await stores.passages.search(alice.id, ["doc"], "goldfish", 5) == []
    await stores.passages.delete_document(alice.id, "doc")
    assert await stores.passages.passages(alice.id, "doc") == []
    assert await stores.passages.search(alice.id, ["doc"], "sourdough", 5) == []


async def test_on_sqlite_a_removed_users_passages_go_with_them(tmp_path):
    from parley.config import Settings
    from parley.core.store.registry import open_stores

    async with open_stores("sqlite", Settings(data_dir=tmp_path)) as stores:
        alice = await stores.users.create_user("alice", "h")
        await stores.passages.add_document(alice.id, "doc", chunk_document("doc", ExtractedDocument(GARDEN)), None)
        assert await stores.users.delete_user(alice.id)

        def left(conn):
            return conn.execute("SELECT count(*) FROM passage_index WHERE passage_index MATCH 'goldfish'").fetchone()[0]

        assert await stores.passages.passages(alice.id, "doc") == []
        assert await stores.passages._db.run(left) == 0  # the full-text index too
