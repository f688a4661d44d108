"""Who a request came from when CloudFront is in front: the viewer's address, believed only from CloudFront.

Behind CloudFront, the peer that API Gateway reports (``sourceIp``) is an edge server, shared by everyone
that edge serves: limits per address would count the edge. So the distribution puts the viewer's address in
a header of its own (a CloudFront Function on the API's behaviour writes ``event.viewer.ip`` over whatever
the viewer sent; CloudFront's own ``CloudFront-Viewer-Address`` would not reach API Gateway, as the origin
request policy API Gateway needs forwards viewer headers only). Anyone can send that header too, straight
to API Gateway's own URL, so CloudFront also adds a secret header to every request it forwards (a custom
origin header, from Secrets Manager), and the viewer's address counts only with it.

This module imports only the standard library: the CDK app loads it by path for the headers' names.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

VIEWER_ADDRESS_HEADER = "X-Parley-Viewer-Address"
SECRET_HEADER = "X-Parley-Origin-Secret"  # noqa: S105 - a header's name, not a secret


def viewer_address(headers: Mapping[str, str], secret: str | None) -> str | None:
    """The viewer's IP address if CloudFront (proved by ``secret``) says it; None otherwise, and then the peer
    is the client. ``headers`` are looked up by lower-case name (Starlette's and API Gateway's are)."""
    if not secret:
        return None
    offered = headers.get(SECRET_HEADER.lower(), "")
    if not hmac.compare_digest(offered.encode(), secret.encode()):
        return None
    try:
        return str(ipaddress.ip_address(headers.get(VIEWER_ADDRESS_HEADER.lower(), "").strip()))
    except ValueError:  # not one address (two headers joined with a comma, say): not believed
        return None
