"""CloudFront sends the headers `parley serve` sends (src/parley/server/browser_headers.py), read here on their own."""

from __future__ import annotations

import ast
import runpy
from typing import Any

import pytest

from parley_stack.headers import security_headers
from parley_stack.settings import REPO_ROOT
from tests.cfn import distribution_config, flatten, references, resources, websocket_api

LOCAL = runpy.run_path(str(REPO_ROOT / "src" / "parley" / "server" / "browser_headers.py"))
# CloudFront's managed policy, which sends no CSP and lets the page be framed by its own origin.
MANAGED_SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
ONE_YEAR = 365 * 24 * 3600


def policy_of(template_json: dict[str, Any], behavior: dict[str, Any]) -> dict[str, Any]:
    (policy,) = references(behavior["ResponseHeadersPolicyId"])
    body = template_json["Resources"][policy]
    assert body["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    return body["Properties"]["ResponseHeadersPolicyConfig"]


def page_policy(template_json: dict[str, Any]) -> dict[str, Any]:
    return policy_of(template_json, distribution_config(template_json)["DefaultCacheBehavior"])


def api_policy(template_json: dict[str, Any]) -> dict[str, Any]:
    (behavior,) = [b for b in distribution_config(template_json)["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    return policy_of(template_json, behavior)


def custom_headers(policy: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {item["Header"]: (item["Value"], item["Override"]) for item in policy["CustomHeadersConfig"]["Items"]}


def csp_directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_the_shared_file_imports_nothing_so_infra_can_load_it_by_path() -> None:
    source = (REPO_ROOT / "src" / "parley" / "server" / "browser_headers.py").read_text()
    imports = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert [(node.module if isinstance(node, ast.ImportFrom) else None) for node in imports] == ["__future__"]


def test_no_behaviour_uses_a_managed_response_headers_policy(template_json: dict[str, Any]) -> None:
    config = distribution_config(template_json)
    behaviors = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    policies = set(resources(template_json, "AWS::CloudFront::ResponseHeadersPolicy"))
    assert [references(b["ResponseHeadersPolicyId"]) <= policies for b in behaviors] == [True] * len(behaviors)
    assert MANAGED_SECURITY_HEADERS not in str(template_json)


def test_pages_get_the_local_csp_but_may_also_connect_to_the_websocket_stage(template_json: dict[str, Any]) -> None:
    (ws_api,) = websocket_api(template_json)
    csp = page_policy(template_json)["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert csp["Override"] is True
    deployed = csp_directives(flatten(csp["ContentSecurityPolicy"]))
    local = csp_directives(LOCAL["CONTENT_SECURITY_POLICY"])
    stage = "wss://${" + ws_api + "}.execute-api.us-east-1.${AWS::URLSuffix}/prod"
    # Imports go to the history bucket, attached files to the files bucket (the synth's placeholder account, region).
    buckets = ("parley-history-123456789012-us-east-1", "parley-files-123456789012-us-east-1")
    uploads = " ".join(f"https://{b}.s3.amazonaws.com https://{b}.s3.us-east-1.amazonaws.com" for b in buckets)
    assert deployed == {**local, "connect-src": f"'self' {stage} {uploads}"}
    # What the tests of `parley serve` rely on, so this cannot pass on a weakened local policy either.
    assert deployed["script-src"] == "'self'"
    assert (deployed["object-src"], deployed["frame-ancestors"]) == ("'none'", "'none'")
    assert deployed["require-trusted-types-for"] == "'script'"


def test_pages_get_the_local_browser_headers_and_hsts(template_json: dict[str, Any]) -> None:
    policy = page_policy(template_json)
    security = policy["SecurityHeadersConfig"]
    page, api = LOCAL["PAGE_HEADERS"], LOCAL["API_HEADERS"]
    assert custom_headers(policy) == {
        name: (value, True) for name, value in page.items() if name != "Content-Security-Policy"
    }
    assert set(custom_headers(policy)) == {
        "Cross-Origin-Opener-Policy",
        "Cross-Origin-Resource-Policy",
        "Permissions-Policy",
        "X-Robots-Tag",  # no page is for search engines, a shared chat's included
    }
    assert custom_headers(policy)["X-Robots-Tag"] == ("noindex, nofollow", True)
    assert security["FrameOptions"] == {"FrameOption": api["X-Frame-Options"], "Override": True}
    assert security["ReferrerPolicy"] == {"ReferrerPolicy": api["Referrer-Policy"], "Override": True}
    assert security["ContentTypeOptions"] == {"Override": True}
    assert (api["X-Frame-Options"], api["Referrer-Policy"]) == ("DENY", "no-referrer")
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= ONE_YEAR
    assert hsts["Override"] is True
    # S3 sets each file's Cache-Control (hashed assets for good); the policy must not replace it.
    assert "Cache-Control" not in custom_headers(policy)


def test_api_answers_keep_the_apps_headers_which_cloudfront_only_fills_in(template_json: dict[str, Any]) -> None:
    policy = api_policy(template_json)
    security = policy["SecurityHeadersConfig"]
    api = LOCAL["API_HEADERS"]
    # Override off: the app's headers reach the browser as they are; API Gateway's own answers (the authorizer's 401,
    # a throttled 429) get the same ones from CloudFront.
    assert "ContentSecurityPolicy" not in security
    assert security["FrameOptions"] == {"FrameOption": api["X-Frame-Options"], "Override": False}
    assert security["ReferrerPolicy"] == {"ReferrerPolicy": api["Referrer-Policy"], "Override": False}
    assert security["ContentTypeOptions"] == {"Override": False}
    assert custom_headers(policy) == {"Cache-Control": (api["Cache-Control"], False)}
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= ONE_YEAR


def test_policy_names_include_the_region(template_json: dict[str, Any]) -> None:
    # Response headers policy names are unique per account: two regions' stacks must not collide.
    names = [
        body["Properties"]["ResponseHeadersPolicyConfig"]["Name"]
        for body in resources(template_json, "AWS::CloudFront::ResponseHeadersPolicy").values()
    ]
    assert sorted(names) == ["Parley-us-east-1-Api", "Parley-us-east-1-Page"]


def test_a_header_cloudfront_cannot_send_as_written_is_refused() -> None:
    with pytest.raises(ValueError, match="nosniff"):
        security_headers({"X-Content-Type-Options": "sniff-away"}, override=True)
