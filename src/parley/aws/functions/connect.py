"""The WebSocket API's ``$connect`` route: redeems a ticket and records the connection."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Any

from parley.aws.functions.base import LambdaFunction
from parley.aws.functions.websocket import FORBIDDEN, OK
from parley.compose.auth import build_auth
from parley.compose.websocket import build_ws_policy
from parley.ws_dispatch import ConnectionRefused, Refusal

TOO_MANY_CONNECTIONS = {"statusCode": 429}  # $connect's answer is the handshake's status
_REFUSED = {Refusal.ORIGIN: FORBIDDEN, Refusal.TICKET: FORBIDDEN, Refusal.TOO_MANY: TOO_MANY_CONNECTIONS}
# API Gateway closes a WebSocket after 2 hours at most; the record may go then.
CONNECTION_TTL_SECONDS = 2 * 3600


class ConnectFunction(LambdaFunction):
    """Redeems the single-use ticket from the query string and records whose session the connection belongs
    to, unless the user already holds ``max_sockets_per_user`` open connections."""

    async def open(self, stack: AsyncExitStack) -> None:
        self.auth = build_auth(self.settings, self.stores, before_remove=None)  # it removes no account
        self.policy = build_ws_policy(self.settings, self.stores)

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}

        # Counted from the store (its user index is eventually consistent: handshakes within the same instant
        # may pass together), so the cap holds whichever container runs each $connect.
        async def open_sockets(user_id: str) -> int:
            return len(await self.stores.connections.user_connections(user_id))

        try:
            holder = await self.policy.admit(
                origin=headers.get("origin"),
                host=headers.get("host", ""),
                ticket=(event.get("queryStringParameters") or {}).get("ticket", ""),
                redeem=self.auth.redeem_ticket,
                open_sockets=open_sockets,
            )
        except ConnectionRefused as refused:
            return _REFUSED[refused.refusal]
        connection_id = event["requestContext"]["connectionId"]
        await self.stores.connections.put_connection(
            connection_id, holder.session, time.time() + CONNECTION_TTL_SECONDS
        )
        # A session that ended while this ran found no record to close: look again now that the record exists.
        if not await self.auth.session_valid(holder.session):
            await self.stores.connections.delete_connection(connection_id)
            return FORBIDDEN
        return OK
