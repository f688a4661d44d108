"""9. Retrieval over attached documents: the p95 of ranking 10,000 passages for a prompt, and the throughput of
cutting and indexing documents, each against a baseline in the same run.

Ten synthetic documents of 1,000 passages (about 10 MB of text, words drawn from a Zipf-like vocabulary of
20,000 words, so common words are in most passages and rare ones in few) are attached to one prompt; prompts
are eight words (stop words, common and rare words mixed). Every prompt is ranked, taking turns, by:

- SQLite FTS5 (``SqlitePassageIndex.search``, top 20), what ``parley serve`` does;
- a pure-Python BM25 over the same passages prebuilt in memory, the way ``rank_bm25`` scores (every passage's
  term counts visited for every query word): the baseline;
- the prebuilt per-document keyword index of the AWS home (``bm25.KeywordIndex``): its passages' lengths and the
  shards that hold the prompt's words decompressed from their stored bytes and ranked per query, as the Lambda
  does (the DynamoDB reads themselves are not timed);
- and, for a few prompts only, the index rebuilt on every query (tokenize every passage, then rank), the
  pattern of Open WebUI's #8579.

Throughput: ``chunk_document`` on 5 MB of text against cutting it at fixed offsets; cutting plus writing the
passages into SQLite (FTS5 index kept by triggers) against plain inserts of the same rows into a table without
FTS5; building the AWS keyword index (postings and compression).
"""

from __future__ import annotations

import asyncio
import math
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence

from bench.harness import Benchmark, Context
from bench.results import Figure, Report
from bench.stats import Summary, ratio

DOCUMENTS = 10
PASSAGES_PER_DOCUMENT = 1000
VOCABULARY = 20_000
QUERIES = 200
QUICK_QUERIES = 30
REBUILT_QUERIES = 3
LIMIT = 20
THROUGHPUT_BYTES = 5 * 1024 * 1024
K1, B = 1.2, 0.75


def vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = sorted({"".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(VOCABULARY * 2)})[:VOCABULARY]
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]  # Zipf: a few words everywhere, most rare
    return words, weights


def paragraph(rng: random.Random, words: list[str], weights: list[float], chars: int) -> str:
    out: list[str] = []
    length = 0
    while length < chars:
        sentence = rng.choices(words, weights, k=rng.randint(8, 20))
        text = " ".join(sentence).capitalize() + "."
        out.append(text)
        length += len(text) + 1
    return " ".join(out)


def document_text(rng: random.Random, words: list[str], weights: list[float], passages: int) -> str:
    return "\n\n".join(paragraph(rng, words, weights, 900) for _ in range(passages))


def prompts(rng: random.Random, words: list[str], count: int) -> list[str]:
    common, rare = words[:200], words[2000:]
    out = []
    for _ in range(count):
        chosen = [*rng.sample(common, 3), *rng.sample(rare, 3)]
        out.append(f"What does the document say about {' '.join(chosen)} and {rng.choice(rare)}?")
    return out


class PythonBM25:
    """rank_bm25's way: per passage a Counter of its words, per query word a visit of every passage."""

    def __init__(self, passages: Sequence[tuple[str, int, str]]) -> None:
        from parley.core.retrieval.keywords import terms

        self.keys = [(file_id, index) for file_id, index, _ in passages]
        self.counts = [Counter(terms(text)) for _, _, text in passages]
        self.lengths = [sum(c.values()) for c in self.counts]
        self.average = sum(self.lengths) / len(self.lengths)
        df: Counter[str] = Counter()
        for counts in self.counts:
            df.update(counts.keys())
        n = len(self.counts)
        self.idf = {word: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for word, f in df.items()}

    def rank(self, query: Sequence[str], limit: int) -> list[tuple[str, int]]:
        scores = [0.0] * len(self.counts)
        for word in query:
            idf = self.idf.get(word)
            if idf is None:
                continue
            for position, counts in enumerate(self.counts):
                tf = counts.get(word, 0)
                if tf:
                    norm = tf + K1 * (1 - B + B * self.lengths[position] / self.average)
                    scores[position] += idf * tf * (K1 + 1) / norm
        best = sorted(range(len(scores)), key=lambda p: -scores[p])[:limit]
        return [self.keys[p] for p in best if scores[p] > 0]


async def run(ctx: Context, report: Report) -> None:
    from parley.config import Settings
    from parley.core.files.base import ExtractedDocument
    from parley.core.retrieval import bm25
    from parley.core.retrieval.chunking import chunk_document
    from parley.core.retrieval.keywords import query_terms
    from parley.core.store.registry import open_stores

    rng = ctx.rng
    words, weights = vocabulary(rng)
    texts = [document_text(rng, words, weights, PASSAGES_PER_DOCUMENT) for _ in range(DOCUMENTS)]
    file_ids = [f"{n:032x}" for n in range(DOCUMENTS)]

    settings = Settings(data_dir=ctx.data_dir("retrieval"), local_model=False)
    async with open_stores("sqlite", settings) as stores:
        user = await stores.users.create_user("bench", "x")
        indexed_bytes, index_seconds, documents = 0, 0.0, []
        for file_id, text in zip(file_ids, texts, strict=True):
            started = time.perf_counter()
            passages = chunk_document(file_id, ExtractedDocument(text))
            await stores.passages.add_document(user.id, file_id, passages, None)
            index_seconds += time.perf_counter() - started
            indexed_bytes += len(text.encode())
            documents.append(passages)
        every = [p for passages in documents for p in passages]
        report.note(
            f"{len(every):,} passages in {DOCUMENTS} documents ({indexed_bytes / 1e6:.1f} MB), all attached to "
            f"each prompt; top {LIMIT} asked for."
        )

        baseline = await asyncio.to_thread(PythonBM25, [(p.file_id, p.index, p.text) for p in every])
        built = [bm25.KeywordIndex.build(passages) for passages in documents]
        shards = [bm25.shard_count(len(passages)) for passages in documents]
        stored = [(i.lengths_bytes(), i.shard_bytes(n)) for i, n in zip(built, shards, strict=True)]
        stored_bytes = sum(len(lengths) + sum(map(len, parts)) for lengths, parts in stored)

        def aws_rank(query: list[str]) -> list[tuple[int, int, float]]:
            indexes = []
            for (lengths, parts), count in zip(stored, shards, strict=True):
                needed = {bm25.shard_of(word, count) for word in query}
                indexes.append(bm25.KeywordIndex.from_parts(lengths, [parts[n] for n in needed]))
            return bm25.rank(indexes, query, LIMIT)

        fts, python, aws = [], [], []
        asked = prompts(rng, words, QUICK_QUERIES if ctx.quick else QUERIES)
        agree = 0
        for prompt in asked:
            query = query_terms(prompt)
            started = time.perf_counter()
            hits = await stores.passages.search(user.id, file_ids, prompt, LIMIT)
            fts.append(time.perf_counter() - started)
            started = time.perf_counter()
            expected = baseline.rank(query, LIMIT)
            python.append(time.perf_counter() - started)
            started = time.perf_counter()
            aws_rank(query)
            aws.append(time.perf_counter() - started)
            agree += bool(hits) and (hits[0].passage.file_id, hits[0].passage.index) in expected[:5]

        rebuilt = []
        for prompt in asked[:REBUILT_QUERIES]:
            started = time.perf_counter()
            PythonBM25([(p.file_id, p.index, p.text) for p in every]).rank(query_terms(prompt), LIMIT)
            rebuilt.append(time.perf_counter() - started)

    fts_s, python_s, aws_s, rebuilt_s = (Summary.of(v).scaled(1000) for v in (fts, python, aws, rebuilt))
    report.data["retrieval_ms"] = {
        "sqlite_fts5": fts_s.to_dict(),
        "python_bm25_prebuilt": python_s.to_dict(),
        "aws_prebuilt_index": aws_s.to_dict(),
        "rebuilt_per_query": rebuilt_s.to_dict(),
    }
    label = f"retrieval p95 at {len(every):,} passages"
    report.add(
        Figure.judged(
            f"{label}, SQLite FTS5",
            fts_s.p95,
            "ms",
            baseline_label="pure-Python BM25 (rank_bm25-style, prebuilt)",
            baseline=python_s.p95,
            ratio=ratio(fts_s.p95, python_s.p95),
            aim="< the baseline",
            met=fts_s.p95 < python_s.p95,
            detail=f"p50 {fts_s.p50:.1f} vs {python_s.p50:.1f} ms; n={fts_s.n}; FTS5's top hit in the baseline's "
            f"top 5 for {agree}/{fts_s.n}",
        )
    )
    report.add(
        Figure(
            f"{label}, AWS prebuilt index (load + rank)",
            aws_s.p95,
            "ms",
            "pure-Python BM25 (rank_bm25-style, prebuilt)",
            python_s.p95,
            ratio(aws_s.p95, python_s.p95),
            detail=f"p50 {aws_s.p50:.1f} ms; DynamoDB reads not included; {stored_bytes / 1e6:.1f} MB of stored "
            f"index in {sum(shards)} shards",
        )
    )
    report.add(
        Figure(
            f"{label}, index rebuilt per query",
            rebuilt_s.p50,
            "ms",
            "SQLite FTS5 p50",
            fts_s.p50,
            ratio(rebuilt_s.p50, fts_s.p50),
            detail=f"median of {rebuilt_s.n} (the pattern of Open WebUI #8579)",
        )
    )

    sample = "\n\n".join(texts)[:THROUGHPUT_BYTES]
    megabytes = len(sample.encode()) / 1e6
    started = time.perf_counter()
    passages = chunk_document("x" * 32, ExtractedDocument(sample))
    chunk_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fixed = [sample[at : at + 1000] for at in range(0, len(sample), 850)]
    fixed_seconds = max(time.perf_counter() - started, 1e-9)
    report.add(
        Figure(
            "chunking throughput",
            megabytes / chunk_seconds,
            "MB/s",
            "fixed-size slices",
            megabytes / fixed_seconds,
            ratio(megabytes / chunk_seconds, megabytes / fixed_seconds),
            detail=f"{len(passages):,} passages ({len(fixed):,} slices) from {megabytes:.1f} MB",
        )
    )
    plain_seconds = await asyncio.to_thread(_plain_inserts, ctx, [(p.index, p.text, p.start, p.end) for p in every])
    report.add(
        Figure(
            "indexing throughput into SQLite (chunk + FTS5)",
            indexed_bytes / 1e6 / index_seconds,
            "MB/s",
            "plain SQLite inserts, no FTS5",
            indexed_bytes / 1e6 / plain_seconds,
            ratio(plain_seconds, index_seconds),
            detail=f"{indexed_bytes / 1e6:.1f} MB, {len(every):,} passages",
        )
    )
    started = time.perf_counter()
    for passages in documents:
        built_index = bm25.KeywordIndex.build(passages)
        built_index.lengths_bytes()
        built_index.shard_bytes(bm25.shard_count(len(passages)))
    build_seconds = time.perf_counter() - started
    report.add(
        Figure(
            "AWS keyword index build throughput (postings + zlib)",
            indexed_bytes / 1e6 / build_seconds,
            "MB/s",
            "chunking throughput",
            megabytes / chunk_seconds,
            ratio(indexed_bytes / build_seconds, len(sample.encode()) / chunk_seconds),
        )
    )


def _plain_inserts(ctx: Context, rows: list[tuple[int, str, int, int]]) -> float:
    conn = sqlite3.connect(ctx.data_dir("plain.db"), isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE passages (idx INTEGER, body TEXT, start_at INTEGER, end_at INTEGER)")
        started = time.perf_counter()
        for at in range(0, len(rows), PASSAGES_PER_DOCUMENT):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO passages VALUES (?, ?, ?, ?)", rows[at : at + PASSAGES_PER_DOCUMENT])
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


BENCHMARK = Benchmark(9, "retrieval", "Retrieval over attached documents", run, budget_seconds=600)
