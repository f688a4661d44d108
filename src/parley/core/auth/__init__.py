"""Authentication: password hashing, signed session tokens, WebSocket tickets, login throttling.

Import from the modules (``core.auth.service``, ``core.auth.sessions``, ...): this package imports none of them, so
a process that only checks sessions (``sessions``) never loads the token and password libraries."""
