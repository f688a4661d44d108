"""Authentication: password hashing, signed session tokens, WebSocket tickets, login throttling."""

from parley.core.auth.service import AuthService, Principal, Session

__all__ = ["AuthService", "Principal", "Session"]
