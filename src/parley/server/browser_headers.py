"""What a browser is told about Parley's pages and API answers: the one list `parley serve`, the local AWS emulation
and CloudFront on AWS (``infra/parley_stack/headers.py``) all send.

This module imports nothing: the CDK app loads it by path, because its environment (infra/.venv) has the CDK but
not the ``parley`` package and what that needs.
"""

from __future__ import annotations

# The app is one script and one stylesheet from this origin; markdown images from elsewhere are never loaded.
CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "font-src": "'self'",
    # Includes ws:/wss: to this origin. On AWS the WebSocket API has an origin of its own, which CloudFront adds.
    "connect-src": "'self'",
    "media-src": "'none'",
    "object-src": "'none'",
    "frame-src": "'none'",
    "worker-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "require-trusted-types-for": "'script'",
}


def content_security_policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


CONTENT_SECURITY_POLICY = content_security_policy(CSP_DIRECTIVES)


# Nothing of Parley's is for search engines: the app is private, and a shared link is for whom it is given to.
NOINDEX = "noindex, nofollow"


def page_headers(*, connect_to: str = "") -> dict[str, str]:
    """What pages carry besides API_HEADERS (their Cache-Control aside: a page sets its own); ``connect_to`` is an
    origin the app's script may also reach (on AWS, the history bucket an import's file is posted to)."""
    directives = dict(CSP_DIRECTIVES)
    if connect_to:
        directives["connect-src"] = f"{directives['connect-src']} {connect_to}"
    return {
        "Content-Security-Policy": content_security_policy(directives),
        "X-Robots-Tag": NOINDEX,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    }


PAGE_HEADERS = page_headers()

# How long a browser keeps the app's files: the hashed assets for good (a new build gives them new names); the page
# and everything else are checked on every load, so a new build is seen at once and never half-loaded.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
PAGE_CACHE_CONTROL = "no-cache"

# Every response, so a browser treats API answers as data, never as a page to frame or sniff.
API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

# Answers of the API's public routes (a shared conversation, read without login) carry these too, errors included:
# they are what a page shows, so they get the page's policy, and are never indexed.
PUBLIC_API_PREFIX = "/api/public/"
PUBLIC_API_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Robots-Tag": NOINDEX,
}
