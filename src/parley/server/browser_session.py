"""Where a request's session token comes from: the ``Authorization: Bearer`` header (scripts, the CLI's users), or
the web app's cookie, which page script cannot read.

The cookie is ``HttpOnly`` (no script reads it, injected or not), ``SameSite=Strict`` (no other site's page or form
makes the browser send it) and scoped to ``/api``. A request that carries only the cookie may read; anything else
must also carry the ``X-Parley-CSRF`` header, which a cross-site form cannot send and another origin's script can
send only after a CORS preflight that Parley never grants, and an ``Origin`` of this server. That closes what
SameSite leaves open: another port of the same host is the same *site*.

`parley serve` and the HTTP API function check it in ``server/deps.py``, the AWS authorizer in front of them checks
it too, so both accept the same requests. This module imports nothing heavy: the authorizer loads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from parley.errors import AuthError, CrossSiteRequest

SESSION_COOKIE = "parley_session"
COOKIE_PATH = "/api"  # the pages and the WebSocket never need it
CSRF_HEADER = "X-Parley-CSRF"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_token(
    method: str, headers: Mapping[str, str], cookies: Mapping[str, str], allowed_origins: Iterable[str]
) -> str:
    """The token this request carries; raises AuthError without one, CrossSiteRequest for a cookie it may not use.

    ``headers`` have lower-case names. The header wins over the cookie, so a script's requests are never judged as a
    browser's."""
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Log in to use this.")
        return token.strip()
    token = cookies.get(SESSION_COOKIE, "")
    if not token:
        raise AuthError("Log in to use this.")
    if method.upper() not in SAFE_METHODS:
        check_same_origin(headers, allowed_origins)
    return token


def check_same_origin(headers: Mapping[str, str], allowed_origins: Iterable[str]) -> None:
    """Raises CrossSiteRequest unless the request proves it comes from a page of this server (or a listed origin)."""
    if not headers.get(CSRF_HEADER.lower()):
        raise CrossSiteRequest()
    origin = headers.get("origin")
    if not origin or not origin_matches(origin, headers.get("host", ""), allowed_origins):
        raise CrossSiteRequest()


def origin_matches(origin: str, host: str, allowed_origins: Iterable[str]) -> bool:
    """A browser's ``Origin`` names this server (the host it asked for) or one of the listed origins."""
    if origin in allowed_origins:
        return True
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


def parse_cookies(pairs: Iterable[str]) -> dict[str, str]:
    """``name=value`` pairs, as API Gateway's payload 2.0 lists a request's cookies; the first of a name wins."""
    cookies: dict[str, str] = {}
    for pair in pairs:
        for part in pair.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep and name:
                cookies.setdefault(name, value)
    return cookies
