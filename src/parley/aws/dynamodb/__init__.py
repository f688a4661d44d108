"""The ``dynamodb`` store backend: every store interface on one DynamoDB table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from parley.aws.clients import aws_client
from parley.aws.dynamodb.api_keys import DynamoApiKeyStore
from parley.aws.dynamodb.auth_state import (
    DynamoConnectionStore,
    DynamoPreferencesStore,
    DynamoRequestRateStore,
    DynamoStopSignalStore,
    DynamoThrottleStore,
    DynamoTicketStore,
    DynamoTokenRevocationStore,
)
from parley.aws.dynamodb.conversations import DynamoConversationStore
from parley.aws.dynamodb.files import DynamoFileStore
from parley.aws.dynamodb.imports import DynamoImportJobStore, DynamoImportRecordStore
from parley.aws.dynamodb.messages import DynamoMessageLog
from parley.aws.dynamodb.passages import DynamoPassageIndex
from parley.aws.dynamodb.search import DynamoSearchIndex
from parley.aws.dynamodb.setup_code import DynamoSetupCodeStore
from parley.aws.dynamodb.shares import DynamoShareStore
from parley.aws.dynamodb.table import Table
from parley.aws.dynamodb.usage import DynamoUsageStore
from parley.aws.dynamodb.users import DynamoUserStore
from parley.config import ENV_DYNAMODB_TABLE, Settings
from parley.core.store.base import Stores
from parley.core.store.registry import store_backend
from parley.errors import ConfigError


def dynamo_stores(client: Any, table_name: str) -> Stores:
    """Every store over one table, with an injected low-level DynamoDB client."""
    table = Table(client, table_name)
    search = DynamoSearchIndex(table)
    shares = DynamoShareStore(table)
    conversations = DynamoConversationStore(table, search, shares)
    usage = DynamoUsageStore(table)
    files = DynamoFileStore(table)
    users = DynamoUserStore(table, conversations, usage, shares, files)
    return Stores(
        users=users,
        setup_codes=DynamoSetupCodeStore(table, users),
        conversations=conversations,
        messages=DynamoMessageLog(table, search),
        search=search,
        revoked_tokens=DynamoTokenRevocationStore(table),
        tickets=DynamoTicketStore(table),
        throttle=DynamoThrottleStore(table),
        preferences=DynamoPreferencesStore(table),
        connections=DynamoConnectionStore(table),
        stop_signals=DynamoStopSignalStore(table),
        request_rate=DynamoRequestRateStore(table),
        api_keys=DynamoApiKeyStore(table),
        usage=usage,
        imports=DynamoImportRecordStore(table),
        import_jobs=DynamoImportJobStore(table),
        shares=shares,
        files=files,
        passages=DynamoPassageIndex(table),
    )


@store_backend("dynamodb")
@asynccontextmanager
async def open_dynamodb_stores(settings: Settings) -> AsyncIterator[Stores]:
    if not settings.dynamodb_table:
        raise ConfigError(f"The dynamodb store needs the table name in {ENV_DYNAMODB_TABLE}.")
    yield dynamo_stores(aws_client("dynamodb", settings), settings.dynamodb_table)
