"""The API Gateway ``@connections`` management API: how a function talks to a WebSocket client."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


class ManagementApi:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def post(self, connection_id: str, data: str) -> bool:
        """Send one frame; False when the client has gone (410), so the caller stops sending."""
        try:
            await asyncio.to_thread(self._client.post_to_connection, ConnectionId=connection_id, Data=data.encode())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "GoneException":
                return False
            raise
        return True

    async def disconnect(self, connection_id: str) -> None:
        try:
            await asyncio.to_thread(self._client.delete_connection, ConnectionId=connection_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "GoneException":
                raise
