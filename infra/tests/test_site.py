from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match, Template

from parley_stack.settings import REPO_ROOT
from tests.cfn import (
    deployed_config,
    distribution_config,
    flatten,
    http_api,
    only,
    parley_functions,
    references,
    resources,
    site_bucket,
    site_deployments,
    websocket_api,
)

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
LOCAL = runpy.run_path(str(REPO_ROOT / "src" / "parley" / "server" / "browser_headers.py"))
CLOUDFRONT = runpy.run_path(str(REPO_ROOT / "src" / "parley" / "server" / "cloudfront.py"))


def origin(config: dict[str, Any], origin_id: str) -> dict[str, Any]:
    (found,) = [candidate for candidate in config["Origins"] if candidate["Id"] == origin_id]
    return found


def function_named(template: dict[str, Any], prefix: str) -> str:
    """The logical id of the CloudFront function whose construct path makes ``prefix``."""
    (found,) = [name for name in resources(template, "AWS::CloudFront::Function") if name.startswith(prefix)]
    return found


def test_the_bucket_is_private(template_json: dict[str, Any]) -> None:
    # Three buckets: the site's, the history bucket (test_history_bucket.py) and the files bucket
    # (test_files_bucket.py); all private.
    assert len(resources(template_json, "AWS::S3::Bucket")) == 3
    for _, bucket in resources(template_json, "AWS::S3::Bucket").items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_cloudfront_reads_the_bucket_through_origin_access_control(template_json: dict[str, Any]) -> None:
    bucket, _ = site_bucket(template_json)
    oac, control = only(template_json, "AWS::CloudFront::OriginAccessControl")
    settings = control["Properties"]["OriginAccessControlConfig"]
    assert (settings["OriginAccessControlOriginType"], settings["SigningBehavior"]) == ("s3", "always")
    config = distribution_config(template_json)
    site = origin(config, config["DefaultCacheBehavior"]["TargetOriginId"])
    assert references(site["DomainName"]) == {bucket}
    assert references(site["OriginAccessControlId"]) == {oac}
    assert site["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy origin access identity
    # The bucket policy lets this distribution, and no one else, read objects.
    (distribution,) = resources(template_json, "AWS::CloudFront::Distribution")
    (policy,) = [
        body
        for body in resources(template_json, "AWS::S3::BucketPolicy").values()
        if references(body["Properties"]["Bucket"]) == {bucket}
    ]
    readers = [
        statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow" and "s3:GetObject" in statement["Action"]
    ]
    assert [reader["Principal"] for reader in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    source = readers[0]["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert references(source) == {distribution}


def test_api_paths_go_uncached_to_the_http_api(template_json: dict[str, Any]) -> None:
    (api,) = http_api(template_json)
    config = distribution_config(template_json)
    (behavior,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    target = origin(config, behavior["TargetOriginId"])
    assert flatten(target["DomainName"]) == "${" + api + "}.execute-api.us-east-1.${AWS::URLSuffix}"
    assert target["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert "OriginPath" not in target or target["OriginPath"] == ""
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert sorted(behavior["AllowedMethods"]) == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    assert behavior["ViewerProtocolPolicy"] in {"https-only", "redirect-to-https"}


def test_the_api_is_told_the_viewers_address_and_that_cloudfront_sent_it(template_json: dict[str, Any]) -> None:
    # Behind CloudFront, API Gateway's sourceIp is an edge server: the per-address login limit needs the viewer.
    config = distribution_config(template_json)
    (behavior,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    viewer_address = function_named(template_json, "SiteViewerAddress")
    assert [(a["EventType"], references(a["FunctionARN"])) for a in behavior["FunctionAssociations"]] == [
        ("viewer-request", {viewer_address})
    ]
    function = template_json["Resources"][viewer_address]["Properties"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    # Written over anything the viewer sent, under the name the app reads; a plain viewer header, so the origin
    # request policy (all viewer headers but Host) passes it on.
    header = CLOUDFRONT["VIEWER_ADDRESS_HEADER"].lower()
    assert f'request.headers["{header}"] = {{ value: event.viewer.ip }};' in function["FunctionCode"]
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    # And the proof it came through CloudFront: the origin secret, from Secrets Manager, never in the template.
    (secret,) = [name for name in resources(template_json, "AWS::SecretsManager::Secret") if "OriginSecret" in name]
    ((custom,),) = [origin(config, behavior["TargetOriginId"])["OriginCustomHeaders"]]
    assert custom["HeaderName"] == CLOUDFRONT["SECRET_HEADER"]
    assert flatten(custom["HeaderValue"]) == "{{resolve:secretsmanager:${" + secret + "}:SecretString:::}}"
    generated = template_json["Resources"][secret]["Properties"]["GenerateSecretString"]
    assert generated == {"PasswordLength": 64, "ExcludePunctuation": True}


def test_only_the_functions_behind_cloudfront_are_told_the_origin_secret(template_json: dict[str, Any]) -> None:
    (secret,) = [name for name in resources(template_json, "AWS::SecretsManager::Secret") if "OriginSecret" in name]
    told, allowed = set(), set()
    for name, function in parley_functions(template_json).items():
        variables = function.properties["Environment"]["Variables"]
        if "PARLEY_CLOUDFRONT_SECRET_ARN" in variables:
            assert references(variables["PARLEY_CLOUDFRONT_SECRET_ARN"]) == {secret}
            told.add(name)
        if "${" + secret + "}" in function.resources_for("secretsmanager:GetSecretValue"):
            allowed.add(name)
    assert told == allowed == {"http_api", "openai_api"}


def test_v1_paths_go_uncached_to_the_streaming_function_url(template_json: dict[str, Any]) -> None:
    config = distribution_config(template_json)
    (behavior,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/v1/*"]
    target = origin(config, behavior["TargetOriginId"])
    (url,) = resources(template_json, "AWS::Lambda::Url")
    assert url in flatten(target["DomainName"])  # the host of the function URL
    assert target["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert target["CustomOriginConfig"]["OriginReadTimeout"] == 60
    assert behavior["CachePolicyId"] == CACHING_DISABLED
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert sorted(behavior["AllowedMethods"]) == ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    (secret,) = [name for name in resources(template_json, "AWS::SecretsManager::Secret") if "OriginSecret" in name]
    (custom,) = target["OriginCustomHeaders"]
    assert custom["HeaderName"] == CLOUDFRONT["SECRET_HEADER"]
    assert flatten(custom["HeaderValue"]) == "{{resolve:secretsmanager:${" + secret + "}:SecretString:::}}"


def test_no_web_acl_unless_one_is_given(template_json: dict[str, Any]) -> None:
    # WAF costs $5 a month and more while idle: optional (webAclArn, infra/README.md; test_settings.py).
    assert "WebACLId" not in distribution_config(template_json)
    assert not [body for body in template_json["Resources"].values() if body["Type"].startswith("AWS::WAFv2::")]


def test_the_site_is_cached_and_app_routes_serve_index_html(template_json: dict[str, Any]) -> None:
    config = distribution_config(template_json)
    default = config["DefaultCacheBehavior"]
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultRootObject"] == "index.html"
    rewrite = function_named(template_json, "SiteSpaRewrite")
    assert [(a["EventType"], references(a["FunctionARN"])) for a in default["FunctionAssociations"]] == [
        ("viewer-request", {rewrite})
    ]
    assert template_json["Resources"][rewrite]["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    # No distribution-wide error pages: they would turn the API's own 403 and 404 into index.html.
    assert "CustomErrorResponses" not in config


def test_the_spa_rewrite_keeps_files_and_rewrites_routes(template_json: dict[str, Any]) -> None:
    code = template_json["Resources"][function_named(template_json, "SiteSpaRewrite")]["Properties"]["FunctionCode"]
    # The rule the JavaScript applies, checked on the paths it must tell apart.
    assert 'uri.lastIndexOf(".") <= uri.lastIndexOf("/")' in code
    assert 'request.uri = "/index.html"' in code

    def rewritten(uri: str) -> bool:
        return uri.rfind(".") <= uri.rfind("/")

    # A share link's page too: its token is base64url (no "."), so /s/<token> is always the app's route.
    share_page = "/s/Zq3k-Vx_9aB2cD4eF6gH8i"
    assert [rewritten(uri) for uri in ("/", "/c/123", "/v1.2/settings", share_page)] == [True] * 4
    assert [rewritten(uri) for uri in ("/config.json", "/assets/index-4f2a.js", "/favicon.svg")] == [False] * 3


def test_the_deployment_writes_the_build_and_config_json(
    template_json: dict[str, Any], cloud_assembly: Path, placeholder_assets: tuple[Path, Path]
) -> None:
    bucket, _ = site_bucket(template_json)
    (distribution,) = resources(template_json, "AWS::CloudFront::Distribution")
    (ws_api,) = websocket_api(template_json)
    _, assets, pages = site_deployments(template_json)
    properties = pages["Properties"]
    assert references(properties["DestinationBucketName"]) == {bucket}
    assert references(assets["Properties"]["DestinationBucketName"]) == {bucket}
    assert references(properties["DistributionId"]) == {distribution}
    assert properties["DistributionPaths"] == ["/*"]
    web_zip = properties["SourceObjectKeys"][0].removesuffix(".zip")
    (assets_zip,) = (f"{key.removesuffix('.zip')}" for key in assets["Properties"]["SourceObjectKeys"])

    # The web build, less any config.json a developer left in it; its assets/ folder goes on its own.
    _, web = placeholder_assets
    web_files = {path.name for path in (cloud_assembly / f"asset.{web_zip}").iterdir()}
    assert web_files == {path.name for path in web.iterdir()} - {"config.json", "assets"}
    asset_files = {path.name for path in (cloud_assembly / f"asset.{assets_zip}").iterdir()}
    assert asset_files == {path.name for path in (web / "assets").iterdir()}

    # config.json: the API on this same origin, and the WebSocket stage's URL, which the deployment writes in place
    # of a marker once the API exists.
    assert deployed_config(template_json, cloud_assembly) == {
        "api_base_url": "",
        "ws_url": "wss://${" + ws_api + "}.execute-api.us-east-1.${AWS::URLSuffix}/prod",
        "app_name": "Parley",
    }


def test_hashed_assets_are_cached_for_good_and_everything_else_is_revalidated(template_json: dict[str, Any]) -> None:
    # As `parley serve` sends them. Without a Cache-Control, browsers guess one from the file's age, and a guessed
    # stale index.html after a deployment points at assets that are gone: a blank page.
    assets_id, assets, pages = site_deployments(template_json)
    assert assets["Properties"]["SystemMetadata"] == {"cache-control": LOCAL["ASSET_CACHE_CONTROL"]}
    assert pages["Properties"]["SystemMetadata"] == {"cache-control": LOCAL["PAGE_CACHE_CONTROL"]}
    assert (LOCAL["ASSET_CACHE_CONTROL"], LOCAL["PAGE_CACHE_CONTROL"]) == (
        "public, max-age=31536000, immutable",
        "no-cache",
    )
    # A page still open from the previous build keeps loading its chunks: assets are never pruned, and the pages'
    # pruning leaves assets/ alone. They are uploaded before the page that names them.
    assert assets["Properties"]["Prune"] is False
    assert pages["Properties"].get("Prune", True) is True
    assert pages["Properties"]["Exclude"] == ["assets/*"]
    assert assets_id in pages["DependsOn"]


def test_outputs(template: Template, template_json: dict[str, Any]) -> None:
    outputs = template_json["Outputs"]
    assert {"SiteUrl", "HttpApiUrl", "WebSocketUrl", "TableName", "Region", "OpenAiApiUrl"} <= set(outputs)
    (distribution,) = resources(template_json, "AWS::CloudFront::Distribution")
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    (api,) = http_api(template_json)
    (ws_api,) = websocket_api(template_json)
    assert flatten(outputs["SiteUrl"]["Value"]) == "https://${" + distribution + ".DomainName}"
    assert flatten(outputs["HttpApiUrl"]["Value"]) == "${" + api + ".ApiEndpoint}"
    ws_url = "wss://${" + ws_api + "}.execute-api.us-east-1.${AWS::URLSuffix}/prod"
    assert flatten(outputs["WebSocketUrl"]["Value"]) == ws_url
    assert outputs["TableName"]["Value"] == {"Ref": table}
    template.has_output("Region", {"Value": "us-east-1"})
    template.has_output("SiteUrl", {"Description": Match.any_value()})
