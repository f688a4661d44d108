"""The session-end function: fed by the table's stream, it closes the WebSockets of sessions that ended.

The table is the one source of truth, so an end is seen however it was written: a logout through the
HTTP API, or ``parley users passwd|disable|remove`` run against the table from anywhere. The event
source's filter (``session_end_filter.json``: deployed by ``infra/``, applied by the local emulation)
passes only two kinds of record:

- a revoked token inserted (a logout): the connections opened by that session close;
- a user modified or removed: if its token version went up, it was disabled, or it is gone, all of the
  user's connections close. A filter cannot compare the old image with the new one; this code does.

API Gateway then calls ``$disconnect`` for each, which deletes its record too; deleting it here as well
means a socket that went away already leaves no record behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.aws.dynamodb import keys
from parley.aws.dynamodb.table import decode
from parley.aws.functions.base import LambdaFunction
from parley.config import ENV_WS_CALLBACK_URL
from parley.errors import ConfigError

log = logging.getLogger(__name__)

FILTER_FILE = Path(__file__).with_name("session_end_filter.json")


def stream_filter() -> list[dict[str, Any]]:
    """The event source's filter patterns (a record passes if it matches any)."""
    patterns: list[dict[str, Any]] = json.loads(FILTER_FILE.read_text())
    return patterns


@dataclass(frozen=True)
class SessionEnd:
    user_id: str
    jti: str | None
    """The session that ended; None when every session of the user did."""


def session_end(record: Mapping[str, Any]) -> SessionEnd | None:
    """What one stream record ends; None when it ends nothing (e.g. a password rehashed at login)."""
    change = record.get("eventName")
    stream = record.get("dynamodb", {})
    key = decode(stream.get("Keys", {}))
    pk, sk = str(key.get("pk", "")), str(key.get("sk", ""))
    old, new = decode(stream.get("OldImage", {})), decode(stream.get("NewImage", {}))

    jti = keys.revoked_jti(pk, sk)
    if jti is not None:
        # A revocation written before revocations named their user has no connections to find.
        return SessionEnd(str(new["user_id"]), jti) if change == "INSERT" and "user_id" in new else None

    user_id = keys.user_id_of(pk, sk)
    if user_id is None:
        return None
    if change == "REMOVE":
        return SessionEnd(user_id, None)
    if change == "MODIFY":
        new_version = int(new.get("token_version", 0)) > int(old.get("token_version", 0))
        newly_disabled = bool(new.get("disabled")) and not bool(old.get("disabled"))
        if new_version or newly_disabled:
            return SessionEnd(user_id, None)
    return None


class SessionEndFunction(LambdaFunction):
    needs_secrets = False

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not self.settings.ws_callback_url:
            raise ConfigError(f"The session-end function needs the WebSocket stage's URL in {ENV_WS_CALLBACK_URL}.")
        api = self.management_api_at(self.settings.ws_callback_url)
        ends = {end for record in event.get("Records", []) if (end := session_end(record)) is not None}
        closed = 0
        for end in ends:
            connection_ids = await self.stores.connections.user_connections(end.user_id, jti=end.jti)
            for connection_id in connection_ids:
                await api.disconnect(connection_id)
                await self.stores.connections.delete_connection(connection_id)
            closed += len(connection_ids)
            log.info(
                "closed %d connection(s) of user %s: %s",
                len(connection_ids),
                end.user_id,
                "a session ended" if end.jti else "every session ended",
            )
        return {"closed": closed}
