"""Named, append-only schema migrations. Never edit a migration that has shipped: add a new one.

Before any pending migration runs on an existing database, a copy of the file is taken beside it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from parley.core.private_files import private_file

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            is_admin INTEGER NOT NULL DEFAULT 0,
            disabled INTEGER NOT NULL DEFAULT 0,
            token_version INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            model TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX conversations_by_user_recent ON conversations (user_id, updated_at DESC, id DESC);
        CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            status TEXT NOT NULL,
            model TEXT,
            finish_reason TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            client_msgid TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (conversation_id, seq)
        );
        CREATE TABLE revoked_tokens (
            jti TEXT PRIMARY KEY,
            expires_at REAL NOT NULL
        );
        CREATE TABLE ws_tickets (
            ticket_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            expires_at REAL NOT NULL
        );
        CREATE TABLE login_throttle (
            key TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            window_ends REAL NOT NULL
        );
        """,
    ),
    (
        "0002_user_preferences",
        """
        CREATE TABLE user_preferences (
            user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            data TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        """,
    ),
    (
        "0003_live_state",
        """
        CREATE TABLE ws_connections (
            connection_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            expires_at REAL NOT NULL
        );
        CREATE INDEX ws_connections_by_user ON ws_connections (user_id);
        CREATE TABLE generations (
            user_id TEXT NOT NULL,
            msgid TEXT NOT NULL,
            stop_requested INTEGER NOT NULL DEFAULT 0,
            finished INTEGER NOT NULL DEFAULT 0,
            expires_at REAL NOT NULL,
            PRIMARY KEY (user_id, msgid)
        );
        """,
    ),
    (
        # Tickets and connections remember the session that opened them, so its end closes only its sockets.
        # A ticket issued before this has no session and is refused: it would have expired within a minute.
        "0004_ws_sessions",
        """
        ALTER TABLE ws_tickets ADD COLUMN jti TEXT;
        ALTER TABLE ws_tickets ADD COLUMN token_version INTEGER;
        ALTER TABLE ws_connections ADD COLUMN jti TEXT;
        """,
    ),
    (
        # An unfinished answer holds one of its user's slots until this time at the latest.
        "0005_generation_leases",
        """
        ALTER TABLE generations ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;
        """,
    ),
    (
        # A connection keeps its whole session, so every message can check that the session still stands.
        # A connection recorded before this has none and is refused: its client opens a new one.
        "0006_connection_token_version",
        """
        ALTER TABLE ws_connections ADD COLUMN token_version INTEGER;
        """,
    ),
    (
        # Messages become a tree: each one names its parent, so an edit or a regenerated answer is a sibling and
        # nothing is deleted. Content becomes typed parts (JSON), and an answer keeps the parameters it was asked
        # with. A message id is unique within its conversation (an import keeps the ids it brings). The table is
        # rebuilt for that key: every row is copied, its text moved into one text part, its parent the message
        # before it, and each conversation's current leaf its last message.
        "0007_message_tree",
        """
        CREATE TABLE message_tree (
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            parent_id TEXT,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            parts TEXT NOT NULL,
            status TEXT NOT NULL,
            model TEXT,
            params TEXT,
            finish_reason TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            client_msgid TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (conversation_id, id),
            UNIQUE (conversation_id, seq)
        );
        INSERT INTO message_tree (
            conversation_id, id, parent_id, seq, role, parts, status, model, finish_reason, prompt_tokens,
            completion_tokens, client_msgid, created_at, updated_at
        )
        SELECT
            m.conversation_id,
            m.id,
            (SELECT p.id FROM messages p WHERE p.conversation_id = m.conversation_id AND p.seq < m.seq
             ORDER BY p.seq DESC LIMIT 1),
            m.seq,
            m.role,
            CASE WHEN m.content = '' THEN '[]' ELSE json_array(json_object('type', 'text', 'text', m.content)) END,
            m.status,
            m.model,
            m.finish_reason,
            m.prompt_tokens,
            m.completion_tokens,
            m.client_msgid,
            m.created_at,
            m.updated_at
        FROM messages m;
        DROP TABLE messages;
        ALTER TABLE message_tree RENAME TO messages;
        CREATE INDEX messages_by_parent ON messages (conversation_id, parent_id, seq);
        ALTER TABLE conversations ADD COLUMN current_leaf_id TEXT;
        UPDATE conversations SET current_leaf_id =
            (SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id ORDER BY m.seq DESC LIMIT 1);
        """,
    ),
    (
        # Full-text search over titles and what was said. ``search_docs`` holds the text of each title and of each
        # final message (a user's message when written; an answer once it is no longer streaming, so the index is
        # not rewritten on every save of an answer under way); ``search_index`` is the FTS5 index over it, kept
        # in step by triggers, in the same transaction as the write, so it never drifts from the messages. The
        # owner's id is indexed too, so a search matches only the owner's documents inside FTS5 itself.
        # char(2) and char(3) are kept out of the text: search uses them to mark matches in snippets.
        "0008_search_index",
        """
        CREATE TABLE search_docs (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            message_id TEXT,
            role TEXT,
            title TEXT,
            body TEXT
        );
        CREATE INDEX search_docs_by_message ON search_docs (conversation_id, message_id);
        CREATE VIRTUAL TABLE search_index USING fts5(
            user_id, title, body,
            content = 'search_docs', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
            INSERT INTO search_index (rowid, user_id, title, body) VALUES (new.id, new.user_id, new.title, new.body);
        END;
        CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
            INSERT INTO search_index (search_index, rowid, user_id, title, body)
            VALUES ('delete', old.id, old.user_id, old.title, old.body);
        END;

        CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations BEGIN
            INSERT INTO search_docs (user_id, conversation_id, title)
            VALUES (new.user_id, new.id, replace(replace(new.title, char(2), ''), char(3), ''));
        END;
        CREATE TRIGGER conversations_search_rename AFTER UPDATE OF title ON conversations BEGIN
            DELETE FROM search_docs WHERE conversation_id = old.id AND message_id IS NULL;
            INSERT INTO search_docs (user_id, conversation_id, title)
            VALUES (new.user_id, new.id, replace(replace(new.title, char(2), ''), char(3), ''));
        END;
        CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations BEGIN
            DELETE FROM search_docs WHERE conversation_id = old.id;
        END;

        CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
        WHEN new.status != 'streaming' AND new.role IN ('user', 'assistant') BEGIN
            INSERT INTO search_docs (user_id, conversation_id, message_id, role, body)
            SELECT c.user_id, new.conversation_id, new.id, new.role, replace(replace(
                (SELECT group_concat(json_extract(p.value, '$.text'), '') FROM json_each(new.parts) p
                 WHERE json_extract(p.value, '$.type') = 'text'),
                char(2), ''), char(3), '')
            FROM conversations c WHERE c.id = new.conversation_id;
        END;
        CREATE TRIGGER messages_search_update AFTER UPDATE OF parts, status ON messages
        WHEN new.status != 'streaming' OR old.status != 'streaming' BEGIN
            DELETE FROM search_docs WHERE conversation_id = old.conversation_id AND message_id = old.id;
            INSERT INTO search_docs (user_id, conversation_id, message_id, role, body)
            SELECT c.user_id, new.conversation_id, new.id, new.role, replace(replace(
                (SELECT group_concat(json_extract(p.value, '$.text'), '') FROM json_each(new.parts) p
                 WHERE json_extract(p.value, '$.type') = 'text'),
                char(2), ''), char(3), '')
            FROM conversations c
            WHERE c.id = new.conversation_id AND new.status != 'streaming' AND new.role IN ('user', 'assistant');
        END;
        CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
            DELETE FROM search_docs WHERE conversation_id = old.conversation_id AND message_id = old.id;
        END;

        INSERT INTO search_docs (user_id, conversation_id, title)
        SELECT user_id, id, replace(replace(title, char(2), ''), char(3), '') FROM conversations;
        INSERT INTO search_docs (user_id, conversation_id, message_id, role, body)
        SELECT c.user_id, m.conversation_id, m.id, m.role, replace(replace(
            (SELECT group_concat(json_extract(p.value, '$.text'), '') FROM json_each(m.parts) p
             WHERE json_extract(p.value, '$.type') = 'text'),
            char(2), ''), char(3), '')
        FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE m.status != 'streaming' AND m.role IN ('user', 'assistant')
        ORDER BY m.created_at;
        """,
    ),
    (
        # Connections that rejoined a running answer (resume), each from the seq it had.
        "0009_generation_followers",
        """
        CREATE TABLE generation_followers (
            user_id TEXT NOT NULL,
            msgid TEXT NOT NULL,
            connection_id TEXT NOT NULL,
            after_seq INTEGER NOT NULL,
            PRIMARY KEY (user_id, msgid, connection_id),
            FOREIGN KEY (user_id, msgid) REFERENCES generations(user_id, msgid) ON DELETE CASCADE
        );
        """,
    ),
    (
        # Conversations imported from a file (to skip them when the same file comes again), and import jobs.
        "0010_imports",
        """
        CREATE TABLE imported_conversations (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            imported_at REAL NOT NULL,
            PRIMARY KEY (user_id, source, source_id)
        );
        CREATE TABLE import_jobs (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            file_name TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            bytes_total INTEGER NOT NULL,
            bytes_read INTEGER NOT NULL DEFAULT 0,
            conversations_imported INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            skipped TEXT NOT NULL DEFAULT '[]',
            error TEXT
        );
        CREATE INDEX import_jobs_by_user ON import_jobs (user_id, created_at);
        """,
    ),
    (
        # Public snapshots of conversations. The link's token is kept only as its SHA-256; the messages are a copy
        # (JSON), so later edits do not change a share, but deleting the conversation or the user deletes it.
        "0011_shares",
        """
        CREATE TABLE shares (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            messages TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX shares_by_user ON shares (user_id, created_at DESC);
        CREATE INDEX shares_by_conversation ON shares (conversation_id);
        """,
    ),
    (
        # API keys, kept only as their SHA-256; a name is unique among a user's keys not revoked.
        "0012_api_keys",
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL COLLATE NOCASE,
            prefix TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            expires_at REAL,
            last_used_at REAL,
            revoked INTEGER NOT NULL DEFAULT 0,
            save_conversations INTEGER NOT NULL DEFAULT 0
        );
        CREATE UNIQUE INDEX api_keys_active_name ON api_keys (user_id, name) WHERE revoked = 0;
        CREATE INDEX api_keys_by_user ON api_keys (user_id, created_at);
        """,
    ),
    (
        # Usage: one row per answer (totals per day and model are summed from it through the index), each user's
        # counter per UTC month (used plus reserved by running answers), and each user's monthly budget.
        "0013_usage",
        """
        CREATE TABLE usage_records (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            key_id TEXT,
            model TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            estimated INTEGER NOT NULL,
            source TEXT NOT NULL,
            day TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX usage_records_by_user_day ON usage_records (user_id, day, model);
        CREATE TABLE usage_months (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            month TEXT NOT NULL,
            used INTEGER NOT NULL,
            PRIMARY KEY (user_id, month)
        );
        CREATE TABLE usage_budgets (
            user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            monthly_tokens INTEGER NOT NULL,
            updated_at REAL NOT NULL
        );
        """,
    ),
    (
        # First run in the browser: the hash of the one-time setup code (one row at most). Sign-up: accounts that
        # wait for an admin's approval, and the email address given with them.
        "0014_setup_code_and_sign_up",
        """
        CREATE TABLE setup_code (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            code_hash TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        ALTER TABLE users ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE users ADD COLUMN email TEXT;
        """,
    ),
    (
        # Attached files: the record of each (its bytes are blobs under the data directory). Type and kind are
        # learned from the bytes when the file is processed; deleting the user deletes the records.
        "0015_files",
        """
        CREATE TABLE files (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            status TEXT NOT NULL,
            media_type TEXT NOT NULL DEFAULT '',
            kind TEXT,
            error TEXT,
            text_chars INTEGER NOT NULL DEFAULT 0,
            passages INTEGER NOT NULL DEFAULT 0,
            width INTEGER,
            height INTEGER,
            text_truncated INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX files_by_user ON files (user_id, created_at);
        """,
    ),
    (
        # Passages of attached documents, for retrieval: written once when a file is processed. ``passage_index``
        # is their FTS5 index (BM25), kept in step by triggers; the owner and the file are indexed columns, so a
        # search matches inside FTS5 only the passages of the documents attached. ``vector`` is the passage's
        # embedding (little-endian float32) when an embedding model is configured.
        "0016_passages",
        """
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            file_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            body TEXT NOT NULL,
            start_at INTEGER NOT NULL,
            end_at INTEGER NOT NULL,
            page INTEGER,
            vector BLOB,
            UNIQUE (user_id, file_id, idx)
        );
        CREATE VIRTUAL TABLE passage_index USING fts5(
            user_id, file_id, body,
            content = 'passages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER passages_insert AFTER INSERT ON passages BEGIN
            INSERT INTO passage_index (rowid, user_id, file_id, body)
            VALUES (new.id, new.user_id, new.file_id, new.body);
        END;
        CREATE TRIGGER passages_delete AFTER DELETE ON passages BEGIN
            INSERT INTO passage_index (passage_index, rowid, user_id, file_id, body)
            VALUES ('delete', old.id, old.user_id, old.file_id, old.body);
        END;
        """,
    ),
    (
        # A hold per usage reservation until its answer settles: an expired one (its process died) is given back
        # by whoever next reserves or reads the user's counter; a reclaimed one is kept a day for a late settle.
        "0017_usage_holds",
        """
        CREATE TABLE usage_holds (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            month TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            started_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            reclaimed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, id)
        );
        CREATE INDEX usage_holds_by_expiry ON usage_holds (user_id, expires_at);
        """,
    ),
]


def apply_migrations(conn: sqlite3.Connection, db_path: Path) -> list[str]:
    """Apply pending migrations in order; returns the names applied."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    pending = [(name, sql) for name, sql in MIGRATIONS if name not in applied]
    if not pending:
        return []
    if applied:
        backup = _backup(conn, db_path, before=pending[0][0])
        log.info("database backed up to %s before migrating", backup)
    for name, sql in pending:
        log.info("applying migration %s", name)
        # executescript commits what is pending first; each migration then runs in its own transaction.
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}")
            conn.execute("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)", (name, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return [name for name, _ in pending]


def _backup(conn: sqlite3.Connection, db_path: Path, before: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.name}.{stamp}.before-{before}.bak")
    private_file(target)  # the whole database: as private as the file it copies
    with sqlite3.connect(target) as copy:
        conn.backup(copy)
    copy.close()
    return target
