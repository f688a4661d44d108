"""Signed session tokens (JWT, HS256 pinned) and their checks."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from parley.errors import InvalidToken

ALGORITHM = "HS256"
SESSION_TYPE = "session"
_REQUIRED_CLAIMS = ["sub", "iat", "exp", "iss", "aud", "typ", "jti", "ver"]


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    jti: str
    issued_at: float
    expires_at: float
    token_version: int


class TokenCodec:
    def __init__(self, secret: str, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds

    def issue(self, user_id: str, token_version: int, now: float | None = None) -> tuple[str, TokenClaims]:
        issued = int(now if now is not None else time.time())
        claims = TokenClaims(
            user_id=user_id,
            jti=uuid.uuid4().hex,
            issued_at=issued,
            expires_at=issued + self._ttl,
            token_version=token_version,
        )
        payload: dict[str, Any] = {
            "sub": user_id,
            "iat": issued,
            "exp": issued + self._ttl,
            "iss": self._issuer,
            "aud": self._audience,
            "typ": SESSION_TYPE,
            "jti": claims.jti,
            "ver": token_version,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def decode(self, token: str) -> TokenClaims:
        """Verify signature, algorithm, expiry, issuer, audience and type; InvalidToken otherwise."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError:
            raise InvalidToken() from None
        if payload.get("typ") != SESSION_TYPE:
            raise InvalidToken()
        try:
            return TokenClaims(
                user_id=str(payload["sub"]),
                jti=str(payload["jti"]),
                issued_at=float(payload["iat"]),
                expires_at=float(payload["exp"]),
                token_version=int(payload["ver"]),
            )
        except (TypeError, ValueError):
            raise InvalidToken() from None
