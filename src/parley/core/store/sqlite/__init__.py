"""The default store: one SQLite file in the data directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from parley.config import Settings
from parley.core.rate_limit import MemoryRequestRateStore
from parley.core.store.base import Stores
from parley.core.store.registry import store_backend
from parley.core.store.sqlite import backup as _backup  # noqa: F401  (registers parley backup for SQLite)
from parley.core.store.sqlite.api_keys import SqliteApiKeyStore
from parley.core.store.sqlite.conversations import SqliteConversationStore
from parley.core.store.sqlite.database import Database
from parley.core.store.sqlite.files import SqliteFileStore
from parley.core.store.sqlite.imports import SqliteImportJobStore, SqliteImportRecordStore
from parley.core.store.sqlite.live_state import SqliteConnectionStore, SqliteStopSignalStore
from parley.core.store.sqlite.messages import SqliteMessageLog
from parley.core.store.sqlite.passages import SqlitePassageIndex
from parley.core.store.sqlite.preferences import SqlitePreferencesStore
from parley.core.store.sqlite.search import SqliteSearchIndex
from parley.core.store.sqlite.setup_code import SqliteSetupCodeStore
from parley.core.store.sqlite.shares import SqliteShareStore
from parley.core.store.sqlite.usage import SqliteUsageStore
from parley.core.store.sqlite.users import (
    SqliteThrottleStore,
    SqliteTicketStore,
    SqliteTokenRevocationStore,
    SqliteUserStore,
)


@store_backend("sqlite")
@asynccontextmanager
async def open_sqlite_stores(settings: Settings) -> AsyncIterator[Stores]:
    db = Database(settings.database_path)
    try:
        await db.open()
        yield Stores(
            users=SqliteUserStore(db),
            setup_codes=SqliteSetupCodeStore(db),
            conversations=SqliteConversationStore(db),
            messages=SqliteMessageLog(db),
            search=SqliteSearchIndex(db),
            revoked_tokens=SqliteTokenRevocationStore(db),
            tickets=SqliteTicketStore(db),
            throttle=SqliteThrottleStore(db),
            preferences=SqlitePreferencesStore(db),
            connections=SqliteConnectionStore(db),
            stop_signals=SqliteStopSignalStore(db),
            # One server process owns the file, so its request budgets can live in its memory.
            request_rate=MemoryRequestRateStore(),
            api_keys=SqliteApiKeyStore(db),
            usage=SqliteUsageStore(db),
            imports=SqliteImportRecordStore(db),
            import_jobs=SqliteImportJobStore(db),
            shares=SqliteShareStore(db),
            files=SqliteFileStore(db),
            passages=SqlitePassageIndex(db),
        )
    finally:
        await db.close()
