"""Cutting documents into passages, the prebuilt BM25 index, and reciprocal rank fusion."""

from __future__ import annotations

import itertools

from parley.core.files.base import ExtractedDocument, Passage, PassageHit
from parley.core.retrieval import bm25
from parley.core.retrieval.chunking import ChunkSizes, chunk_document
from parley.core.retrieval.fusion import reciprocal_rank_fusion
from parley.core.retrieval.keywords import query_terms


def sentences(count: int, start: int = 0) -> str:
    return " ".join(f"Sentence number {n} talks about topic {n % 7}." for n in range(start, start + count))


def test_a_short_document_is_one_passage():
    passages = chunk_document("f1", ExtractedDocument("  A short note.\n\n"))
    assert passages == [Passage(file_id="f1", index=0, text="A short note.", start=2, end=15, page=None)]


def test_an_empty_document_has_no_passages():
    assert chunk_document("f1", ExtractedDocument(" \n\t ")) == []


def test_passages_are_sized_cut_at_sentence_ends_and_overlap():
    text = sentences(200)
    passages = chunk_document("f1", ExtractedDocument(text))
    assert len(passages) > 5
    for position, p in enumerate(passages):
        assert p.index == position
        assert p.text == text[p.start : p.end]
        if p is not passages[-1]:
            assert 800 <= len(p.text) <= 1200
            assert p.text.endswith(".")  # cut where a sentence ends
        assert p.text.startswith("Sentence")  # and starts where one begins
    for before, after in itertools.pairwise(passages):
        assert before.start < after.start < before.end  # a little overlap...
        assert before.end - after.start <= 150  # ...and not much
    assert passages[-1].end == len(text)  # nothing left out


def test_paragraph_ends_are_preferred_to_sentence_ends():
    first = sentences(22)  # ~870 characters: a cut fits after it
    assert 800 < len(first) < 1200
    text = first + "\n\n" + sentences(20, start=22)
    passages = chunk_document("f1", ExtractedDocument(text))
    assert passages[0].text == first


def test_a_text_without_spaces_is_cut_hard_and_still_covered():
    text = "x" * 3000
    passages = chunk_document("f1", ExtractedDocument(text), ChunkSizes())
    assert [len(p.text) for p in passages] == [1200, 1200, 600]
    assert "".join(p.text for p in passages) == text


def test_each_passage_knows_the_page_it_starts_on():
    pages = [sentences(30, start=100 * n) for n in range(4)]  # each longer than a passage
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + 1
    document = ExtractedDocument("\f".join(pages), page_starts=tuple(starts))
    passages = chunk_document("f1", document)
    assert [p.page for p in passages] == [document.page_at(p.start) for p in passages]
    assert {p.page for p in passages} == {1, 2, 3, 4}


def passage(index: int, text: str, file_id: str = "f1") -> Passage:
    return Passage(file_id=file_id, index=index, text=text, start=0, end=len(text))


def test_query_terms_drop_stop_words_unless_nothing_else_is_left():
    assert query_terms("What is the Café's opening time?") == ["cafe", "s", "opening", "time"]
    assert query_terms("what is this?") == ["what", "is", "this"]


def test_bm25_ranks_rare_words_and_survives_its_stored_form():
    passages = [
        passage(0, "the cat sat on the mat"),
        passage(1, "the dog chased the cat around the garden"),
        passage(2, "an aardvark is a nocturnal burrowing mammal"),
    ]
    built = bm25.KeywordIndex.build(passages)
    query = query_terms("Tell me about the aardvark and the cat")
    shards = built.shard_bytes(7)
    # Only the shards of the query's words are read back, and they rank as the whole index does.
    needed = [shards[n] for n in {bm25.shard_of(word, 7) for word in query}]
    index = bm25.KeywordIndex.from_parts(built.lengths_bytes(), needed)
    assert len(index.postings) < len(built.postings)
    ranked = bm25.rank([index], query, 10)
    assert ranked == bm25.rank([built], query, 10)
    assert [p for _, p, _ in ranked] == [2, 0, 1]  # the rare word first; a shorter passage before a longer one
    assert bm25.rank([index], ["zebra"], 10) == []


def test_bm25_pools_the_statistics_of_several_documents():
    one = bm25.KeywordIndex.build([passage(0, "alpha beta"), passage(1, "beta gamma")])
    two = bm25.KeywordIndex.build([passage(0, "gamma delta", "f2")])
    ranked = bm25.rank([one, two], ["gamma", "delta"], 10)
    assert [(which, p) for which, p, _ in ranked] == [(1, 0), (0, 1)]


def test_reciprocal_rank_fusion_rewards_agreement():
    a, b, c = passage(0, "a"), passage(1, "b"), passage(2, "c")
    keyword = [PassageHit(a, 9.0), PassageHit(b, 5.0)]
    vector = [PassageHit(c, 0.9), PassageHit(b, 0.8)]
    fused = reciprocal_rank_fusion([keyword, vector], limit=3)
    assert [hit.passage.index for hit in fused] == [1, 0, 2]
    assert fused[0].score == 1 / 62 + 1 / 62
    assert len(reciprocal_rank_fusion([keyword, vector], limit=1)) == 1
