"""The headers CloudFront adds: the ones `parley serve` sends, from the same file, so a deployment keeps the CSP.

src/parley/server/browser_headers.py is the source of truth. infra/.venv has the CDK but not the `parley` package
(nor FastAPI, which the rest of it needs), so the file is loaded by path; it imports nothing, and a test keeps it so.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from constructs import Construct

from parley_stack.settings import REPO_ROOT

BROWSER_HEADERS_FILE = REPO_ROOT / "src" / "parley" / "server" / "browser_headers.py"
# Not sent by `parley serve` (plain HTTP on 127.0.0.1, where browsers ignore it); CloudFront is HTTPS only.
HSTS_MAX_AGE = Duration.days(365)
# Caching is per file, set on the objects in S3 (see site.py): API_HEADERS' no-store is for API answers.
PER_FILE_HEADERS = ("Cache-Control",)


@dataclass(frozen=True)
class BrowserHeaders:
    csp_directives: dict[str, str]
    page: dict[str, str]
    """The page's own headers; a page gets the API's too, as the local middleware adds them to every response."""
    api: dict[str, str]
    content_security_policy: Callable[[dict[str, str]], str]
    """Writes directives as the header's value, the way `parley serve` does."""
    asset_cache_control: str
    """Cache-Control of the hashed files under assets/; every other file gets ``page_cache_control``."""
    page_cache_control: str

    @classmethod
    def load(cls) -> BrowserHeaders:
        names = runpy.run_path(str(BROWSER_HEADERS_FILE))
        return cls(
            csp_directives=names["CSP_DIRECTIVES"],
            page=names["PAGE_HEADERS"],
            api=names["API_HEADERS"],
            content_security_policy=names["content_security_policy"],
            asset_cache_control=names["ASSET_CACHE_CONTROL"],
            page_cache_control=names["PAGE_CACHE_CONTROL"],
        )

    def on_aws_page(self, websocket_url: str, upload_origins: Sequence[str] = ()) -> dict[str, str]:
        """What a page gets locally, but the WebSocket is on API Gateway's origin, and an import's file is posted
        to the history bucket's: connect-src names those."""
        directives = dict(self.csp_directives)
        directives["connect-src"] = " ".join([directives["connect-src"], websocket_url, *upload_origins])
        csp = self.content_security_policy(directives)
        api = {name: value for name, value in self.api.items() if name not in PER_FILE_HEADERS}
        return {**api, **self.page, "Content-Security-Policy": csp}


class ResponseHeaders(Construct):
    """One policy for the page (S3 sends none of these: ours are final) and one for /api/* (the app sends its own,
    which win; CloudFront fills them in on API Gateway's own answers, e.g. the authorizer's 401 or a throttled 429)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        headers: BrowserHeaders,
        websocket_url: str,
        upload_origins: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.page = self._policy(
            "Page",
            headers.on_aws_page(websocket_url, upload_origins),
            override=True,
            comment="Parley pages: CSP and browser headers",
        )
        self.api = self._policy("Api", headers.api, override=False, comment="Parley API: the app's headers")

    def _policy(
        self, construct_id: str, headers: Mapping[str, str], *, override: bool, comment: str
    ) -> cloudfront.ResponseHeadersPolicy:
        stack = Stack.of(self)
        security, custom = security_headers(headers, override=override)
        return cloudfront.ResponseHeadersPolicy(
            self,
            construct_id,
            # Policy names are per account, not per region: a stack of the same name elsewhere must not collide.
            response_headers_policy_name=f"{stack.stack_name}-{stack.region}-{construct_id}",
            comment=comment,
            security_headers_behavior=security,
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(custom_headers=custom) if custom else None,
        )


def security_headers(
    headers: Mapping[str, str], *, override: bool
) -> tuple[cloudfront.ResponseSecurityHeadersBehavior, list[cloudfront.ResponseCustomHeader]]:
    """CloudFront's security-header settings (it refuses these names as custom headers) plus HSTS, and the rest as
    custom headers. A value CloudFront cannot send raises, rather than going out different from `parley serve`'s."""
    rest = dict(headers)
    settings: dict[str, Any] = {
        # The distribution's own domain has no subdomains; a custom domain's would be covered too.
        "strict_transport_security": cloudfront.ResponseHeadersStrictTransportSecurity(
            access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
        )
    }
    if csp := rest.pop("Content-Security-Policy", None):
        settings["content_security_policy"] = cloudfront.ResponseHeadersContentSecurityPolicy(
            content_security_policy=csp, override=override
        )
    if nosniff := rest.pop("X-Content-Type-Options", None):
        if nosniff != "nosniff":
            raise ValueError(f"CloudFront sends X-Content-Type-Options: nosniff only, not {nosniff!r}")
        settings["content_type_options"] = cloudfront.ResponseHeadersContentTypeOptions(override=override)
    if frame_option := rest.pop("X-Frame-Options", None):
        settings["frame_options"] = cloudfront.ResponseHeadersFrameOptions(
            frame_option=cloudfront.HeadersFrameOption[frame_option.upper()], override=override
        )
    if referrer := rest.pop("Referrer-Policy", None):
        settings["referrer_policy"] = cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=cloudfront.HeadersReferrerPolicy[referrer.upper().replace("-", "_")], override=override
        )
    custom = [
        cloudfront.ResponseCustomHeader(header=name, value=value, override=override) for name, value in rest.items()
    ]
    return cloudfront.ResponseSecurityHeadersBehavior(**settings), custom
