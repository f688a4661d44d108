"""Answer only requests addressed to a name this server goes by: the defence against DNS rebinding.

A page on evil.example can point its own name at 127.0.0.1 once it has loaded; its requests then reach
`parley serve` as same-origin requests of evil.example, with ``Host: evil.example``. Refusing that Host keeps such
a page from the API, the WebSocket and the login form.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from parley.config import Settings
from parley.errors import UntrustedHost
from parley.server.errors import error_response, status_for

log = logging.getLogger(__name__)

# Browsers resolve these themselves, never through DNS, so no other site can take them over.
LOOPBACK_NAMES = ("localhost", "*.localhost", "127.0.0.1", "::1")
# Addresses that mean "every interface": they name no host a client would ask for.
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - names to recognise, not to bind


def trusted_hosts(settings: Settings) -> tuple[str, ...]:
    """Loopback names, the address the server is bound to, and PARLEY_TRUSTED_HOSTS."""
    bound = () if settings.host in WILDCARD_BINDS else (settings.host.strip("[]"),)
    return (*LOOPBACK_NAMES, *bound, *settings.trusted_hosts)


def host_name(header: str) -> str:
    """The name a Host header asks for, without its port: ``[::1]:8000`` is ``::1``, ``Example.COM.`` is
    ``example.com``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rpartition(":")[0].rstrip(".") if ":" in header else header.rstrip(".")


def host_trusted(name: str, patterns: Iterable[str]) -> bool:
    """``*`` trusts any name; ``*.example.com`` its subdomains; anything else is an exact name."""
    for pattern in patterns:
        pattern = pattern.lower().strip("[]")
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


class TrustedHostMiddleware:
    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = tuple(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), "")
        if host_trusted(host_name(header), self.hosts):
            await self.app(scope, receive, send)
            return
        log.warning("refused a request for host %r (add it to PARLEY_TRUSTED_HOSTS if it is this server)", header)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake gets a 403
            return
        refused = UntrustedHost()
        await error_response(status_for(UntrustedHost), refused.code, refused.message)(scope, receive, send)
