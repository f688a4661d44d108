"""History at scale, written fast: one user's conversations and messages, straight into Parley's SQLite file.

The schema comes from Parley's own migrations (the stores are opened once, which also creates the user);
then the rows go in with ``executemany`` in a single transaction, which takes seconds where the store's
one-transaction-per-message path would take minutes. Only the columns of the first migration are
written, so later migrations that add columns with defaults keep working. The search index fills itself
from the rows, through the triggers of Parley's migrations.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.services import MODEL, create_users
from parley.config import Settings

USER = "historian"
RARE_WORD = "glacier"
_WORDS: tuple[str, ...] = (
    *("the", "model", "answers", "every", "question", "about", "rivers", "mountains", "history", "cooking"),
    *("code", "with", "care", "and", "detail", "while", "a", "user", "asks", "for", "more", "examples"),
)


@dataclass(frozen=True)
class Shape:
    conversations: int
    messages_each: int = 20
    big_every: int = 0  # every n-th conversation carries one answer of ``big_bytes`` (0: none)
    big_bytes: int = 200 * 1024
    long_messages: int = 0  # one more conversation with this many messages (0: none)


@dataclass(frozen=True)
class Seeded:
    regular: list[str]  # conversations of ``messages_each`` ordinary messages
    big: list[str]  # conversations holding a big answer
    long: str | None


def random_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(_WORDS, k=words))


def _write(db_path: Path, shape: Shape, rng: random.Random) -> Seeded:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        (user_id,) = conn.execute("SELECT id FROM users WHERE username = ?", (USER,)).fetchone()
        texts = [random_text(rng, rng.randint(20, 150)) for _ in range(500)]
        for index in range(0, len(texts), 100):  # in about 1 message in 100: a word search finds selectively
            texts[index] += f" {RARE_WORD}"
        big_text = random_text(rng, shape.big_bytes // 6)[: shape.big_bytes]
        now = time.time() - shape.conversations * 60
        conversations: list[tuple[object, ...]] = []
        messages: list[tuple[object, ...]] = []
        seeded = Seeded(regular=[], big=[], long=None)
        total = shape.conversations + (1 if shape.long_messages else 0)
        for index in range(total):
            conversation_id = uuid.uuid4().hex
            is_long = index == shape.conversations
            is_big = not is_long and shape.big_every > 0 and index % shape.big_every == shape.big_every - 1
            count = shape.long_messages if is_long else shape.messages_each
            started = now + index * 60
            parent: str | None = None
            for seq in range(1, count + 1):
                role = "user" if seq % 2 else "assistant"
                content = big_text if is_big and seq == count // 2 else rng.choice(texts)
                parts = json.dumps([{"type": "text", "text": content}])
                at = started + seq * 0.01
                message_id = uuid.uuid4().hex
                messages.append((message_id, conversation_id, parent, seq, role, parts, "complete", MODEL, at, at))
                parent = message_id  # one branch: each message answers the one before
            conversations.append(
                (conversation_id, user_id, random_text(rng, 5), MODEL, started, started + count * 0.01, parent)
            )
            if is_long:
                seeded = Seeded(seeded.regular, seeded.big, conversation_id)
            else:
                (seeded.big if is_big else seeded.regular).append(conversation_id)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO conversations (id, user_id, title, model, created_at, updated_at, current_leaf_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            conversations,
        )
        conn.executemany(
            "INSERT INTO messages (id, conversation_id, parent_id, seq, role, parts, status, model, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            messages,
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return seeded
    finally:
        conn.close()


async def seed(data_dir: Path, shape: Shape, rng: random.Random) -> Seeded:
    """A database in ``data_dir`` whose user ``USER`` has the history ``shape`` describes."""
    await create_users(data_dir, [USER])
    database = Settings.from_env(env={}, data_dir=data_dir).database_path
    return await asyncio.to_thread(_write, database, shape, rng)
