"""The web app: a private bucket behind CloudFront, which also sends /api/* to the HTTP API (one origin)."""

from __future__ import annotations

import runpy
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from parley_stack.functions import LOG_RETENTION
from parley_stack.headers import BrowserHeaders, ResponseHeaders
from parley_stack.settings import REPO_ROOT

API_PATH_PATTERN = "/api/*"
OPENAI_PATH_PATTERN = "/v1/*"
# How long CloudFront waits for the streaming function's first byte, and then between bytes: 60 s is the most
# CloudFront allows without a quota increase; a model that is silent longer than that has its answer cut.
OPENAI_READ_TIMEOUT_SECONDS = 60
RUNTIME_CONFIG = "config.json"
ASSETS = "assets"  # Vite's output for hashed files: a name changes when the content does

# Serves the single-page app for any path without a file extension (/c/123 -> /index.html). Done per request on the
# site behaviour only: a distribution-wide 403/404 -> index.html rule would also rewrite the API's own 403 and 404.
SPA_REWRITE = """\
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.lastIndexOf(".") <= uri.lastIndexOf("/")) {
    request.uri = "/index.html";
  }
  return request;
}
"""


# The headers the HTTP API reads to tell who a request came from (loaded by path: infra/.venv has no `parley`).
CLOUDFRONT_HEADERS_FILE = REPO_ROOT / "src" / "parley" / "server" / "cloudfront.py"
ORIGIN_SECRET_LENGTH = 64


def viewer_address_function_code(header: str) -> str:
    """Writes the viewer's address over whatever the viewer sent in ``header``. CloudFront's own
    CloudFront-Viewer-Address would not reach API Gateway: the origin request policy that keeps API Gateway's Host
    forwards viewer headers only, and a policy that adds CloudFront's headers forwards the viewer's Host too."""
    return f"""\
function handler(event) {{
  var request = event.request;
  request.headers["{header.lower()}"] = {{ value: event.viewer.ip }};
  return request;
}}
"""


class Site(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        web_dist: Path,
        api_domain_name: str,
        websocket_url: str,
        app_name: str,
        web_acl_arn: str | None = None,
        openai_function_url: str | None = None,
        upload_origins: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        # Only CloudFront reads it (origin access control); it holds nothing but the build, so it goes with the stack.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        spa_rewrite = cloudfront.Function(
            self,
            "SpaRewrite",
            code=cloudfront.FunctionCode.from_inline(SPA_REWRITE),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Parley: app routes serve index.html",
        )
        # The client's address for the API (its per-address login limit): the viewer's, written by a function on the
        # API's behaviour, and believed only with this secret, which CloudFront adds to every request it forwards
        # (the API can also be called at its own URL, where anyone may send any header).
        cloudfront_headers = runpy.run_path(str(CLOUDFRONT_HEADERS_FILE))
        self.origin_secret = secretsmanager.Secret(
            self,
            "OriginSecret",
            description="Parley: proves to the HTTP API that a request came through CloudFront",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=ORIGIN_SECRET_LENGTH, exclude_punctuation=True
            ),
        )
        viewer_address = cloudfront.Function(
            self,
            "ViewerAddress",
            code=cloudfront.FunctionCode.from_inline(
                viewer_address_function_code(cloudfront_headers["VIEWER_ADDRESS_HEADER"])
            ),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="Parley: tells the API the viewer's address",
        )
        # The headers `parley serve` sends, not CloudFront's managed SECURITY_HEADERS (no CSP, and framing allowed).
        browser = BrowserHeaders.load()
        headers = ResponseHeaders(
            self, "Headers", headers=browser, websocket_url=websocket_url, upload_origins=upload_origins
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Parley",
            # An optional WAF web ACL (e.g. a rate rule per address); it also covers /api/*. See infra/README.md.
            web_acl_id=web_acl_arn,
            default_root_object="index.html",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers.page,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=spa_rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={
                # Never cached; every method, header (Authorization included: caching is off), cookie and query
                # string is passed on, except Host, which API Gateway needs to be its own.
                API_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(
                        api_domain_name,
                        protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                        # A dynamic reference, resolved by CloudFormation: the value is not in the template.
                        custom_headers={
                            cloudfront_headers["SECRET_HEADER"]: self.origin_secret.secret_value.unsafe_unwrap()
                        },
                    ),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers.api,
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            function=viewer_address, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                        )
                    ],
                ),
            },
        )
        if openai_function_url is not None:
            self._add_openai_behaviour(openai_function_url, cloudfront_headers["SECRET_HEADER"], headers)
        # Each file's Cache-Control is set on the object, as `parley serve` sends it. Hashed assets go first and
        # stay after a new build (no prune): a page still open from the old build can load its lazy chunks.
        deployment_logs = logs.LogGroup(
            self, "DeploymentLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        assets = s3deploy.BucketDeployment(
            self,
            "Assets",
            destination_bucket=self.bucket,
            destination_key_prefix=f"{ASSETS}/",
            sources=[s3deploy.Source.asset(str(web_dist / ASSETS))],
            cache_control=[s3deploy.CacheControl.from_string(browser.asset_cache_control)],
            prune=False,
            memory_limit=512,
            log_group=deployment_logs,
        )
        # Then the page and the rest of the build, plus config.json, which tells the page where the WebSocket is
        # (the API is this same origin). Its pruning leaves assets/ alone; the invalidation makes it current.
        pages = s3deploy.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(web_dist), exclude=[RUNTIME_CONFIG, ASSETS]),
                s3deploy.Source.json_data(
                    RUNTIME_CONFIG, {"api_base_url": "", "ws_url": websocket_url, "app_name": app_name}
                ),
            ],
            exclude=[f"{ASSETS}/*"],
            cache_control=[s3deploy.CacheControl.from_string(browser.page_cache_control)],
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=512,
            log_group=deployment_logs,
        )
        pages.node.add_dependency(assets)  # a new page never points at assets not uploaded yet

    def _add_openai_behaviour(self, function_url: str, secret_header: str, headers: ResponseHeaders) -> None:
        """/v1/* to the OpenAI-compatible function's URL, which streams: never cached, every method, header (the
        key in Authorization included) and query string passed on except Host (the function URL's own), with the
        origin secret the function requires. The viewer-address function is not needed: /v1 counts per user."""
        domain = Fn.select(2, Fn.split("/", function_url))  # https://<id>.lambda-url.<region>.on.aws/
        self.distribution.add_behavior(
            OPENAI_PATH_PATTERN,
            origins.HttpOrigin(
                domain,
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                read_timeout=Duration.seconds(OPENAI_READ_TIMEOUT_SECONDS),
                custom_headers={secret_header: self.origin_secret.secret_value.unsafe_unwrap()},
            ),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=headers.api,
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"
