"""The HTTP API's Lambda request authorizer (payload 2.0, simple responses).

API Gateway caches its answer per Authorization header for a short time; the app behind it checks
the token again on every request, so a logout or a disabled account takes effect at once.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from parley.aws.functions.base import LambdaFunction
from parley.errors import AuthError
from parley.runtime import build_auth


class AuthorizerFunction(LambdaFunction):
    async def open(self, stack: AsyncExitStack) -> None:
        self.auth = build_auth(self.settings, self.stores)

    async def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return {"isAuthorized": False}
        try:
            principal = await self.auth.authenticate(token.strip())
        except AuthError:
            return {"isAuthorized": False}
        return {"isAuthorized": True, "context": {"user_id": principal.user.id, "username": principal.user.username}}
