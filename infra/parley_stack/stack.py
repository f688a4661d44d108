"""The Parley stack: how the pieces are put together, and what a deployment reports back."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from constructs import Construct

from parley_stack.files_bucket import FilesBucket
from parley_stack.files_bucket import upload_origins as file_upload_origins
from parley_stack.functions import Functions, session_end_filter
from parley_stack.history_bucket import HistoryBucket, upload_origins
from parley_stack.http_api import HttpApi
from parley_stack.monitoring import Monitoring
from parley_stack.settings import DeploySettings
from parley_stack.site import Site
from parley_stack.storage import Storage
from parley_stack.websocket import WebSocket

STACK_NAME = "Parley"
# Besides the HTTP API's function, those that build or run a chat turn with attachments (the WebSocket's prompt and
# the worker that answers it): they read a document's text and an image.
FILE_READERS = ("ws_sendprompt", "worker")


class ParleyStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = Storage(self, "Storage")
        throttle = apigwv2.ThrottleSettings(rate_limit=settings.api_rate_limit, burst_limit=settings.api_burst_limit)
        websocket = WebSocket(self, "WebSocket", throttle=throttle)
        functions = Functions(self, "Functions", settings=settings, storage=storage, websocket=websocket)
        http = HttpApi(
            self,
            "Http",
            app_function=functions["http_api"],
            authorizer_function=functions["authorizer"],
            throttle=throttle,
        )
        websocket.add_routes(
            {
                "$connect": functions["ws_connect"],
                "$disconnect": functions["ws_disconnect"],
                "$default": functions["ws_default"],
                "sendprompt": functions["ws_sendprompt"],
                "stop": functions["ws_stop"],
            }
        )
        websocket.subscribe(functions["worker"])
        storage.stream_to(functions["session_end"], session_end_filter())
        site = Site(
            self,
            "Site",
            web_dist=settings.web_dist,
            api_domain_name=http.domain_name(),
            websocket_url=websocket.url,
            app_name=settings.app_name,
            web_acl_arn=settings.web_acl_arn,
            openai_function_url=functions.urls["openai_api"].url,
            upload_origins=[*upload_origins(self), *file_upload_origins(self)],
        )
        # Exports and imports go through a bucket of their own: a Lambda response is capped at 6 MB.
        history = HistoryBucket(self, "History", site_url=site.url)
        history.grant_transfers(functions["http_api"])
        history.run_imports_with(functions["import_worker"])
        for name in ("http_api", "import_worker"):
            functions[name].add_environment("PARLEY_HISTORY_BUCKET", history.name)
        # Attached files too (the browser posts them straight to the bucket), in a bucket of their own: they are
        # kept until deleted. Its event runs the file worker; a chat turn reads what processing made of them.
        files = FilesBucket(self, "Files", site_url=site.url)
        files.grant_app(functions["http_api"])
        files.process_files_with(functions["file_worker"])
        for name in FILE_READERS:
            files.grant_read_derived(functions[name])
        for name in ("http_api", "file_worker", *FILE_READERS):
            functions[name].add_environment("PARLEY_FILES_BUCKET", files.name)
        # The page's origin, for the WebSocket's Origin check. No cycle: the distribution depends on the HTTP API
        # resource, not on its routes or on the functions behind them.
        # The /v1 function serves no page and checks no Origin; told the site's URL, it would depend on the
        # distribution, which depends on its URL.
        functions.add_environment("PARLEY_ALLOWED_ORIGINS", site.url, skip=("openai_api",))
        # Only the HTTP API's function reads the client's address (the per-address login limit): it believes the
        # viewer's address CloudFront sends when the request carries CloudFront's origin secret.
        functions["http_api"].add_environment("PARLEY_CLOUDFRONT_SECRET_ARN", site.origin_secret.secret_arn)
        # Sign-up is the app function's alone (POST /api/signup): off unless the deployment says otherwise.
        functions["http_api"].add_environment("PARLEY_SIGNUP", settings.signup)
        if settings.signup_domains:
            functions["http_api"].add_environment("PARLEY_SIGNUP_DOMAINS", settings.signup_domains)
        site.origin_secret.grant_read(functions["http_api"])
        # The OpenAI-compatible function answers only requests that carry the same secret (its URL is public).
        functions["openai_api"].add_environment("PARLEY_CLOUDFRONT_SECRET_ARN", site.origin_secret.secret_arn)
        site.origin_secret.grant_read(functions["openai_api"])

        CfnOutput(self, "SiteUrl", value=site.url, description="Open this in a browser")
        CfnOutput(self, "HttpApiUrl", value=http.url, description="The HTTP API without CloudFront")
        CfnOutput(self, "OpenAiApiUrl", value=f"{site.url}/v1", description="base_url for OpenAI clients (with a key)")
        CfnOutput(self, "WebSocketUrl", value=websocket.url, description="What the page connects to")
        CfnOutput(
            self, "TableName", value=storage.table.table_name, description="PARLEY_DYNAMODB_TABLE for parley users"
        )
        CfnOutput(self, "Region", value=self.region, description="AWS_REGION for parley users")
        CfnOutput(
            self, "FilesBucketName", value=files.name, description="Attached files (kept when the stack is destroyed)"
        )
        if settings.monitoring:
            self._monitor(settings, functions, storage, http, websocket)

    def _monitor(
        self, settings: DeploySettings, functions: Functions, storage: Storage, http: HttpApi, websocket: WebSocket
    ) -> None:
        monitoring = Monitoring(
            self,
            "Monitoring",
            functions=functions.by_name(),
            worker=functions["worker"],
            file_worker=functions["file_worker"],
            file_failures=functions.file_worker_failures,
            table=storage.table,
            http_api=http.api,
            websocket_api=websocket.api,
            alarm_email=settings.alarm_email,
        )
        CfnOutput(
            self,
            "Dashboard",
            value=f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards:name={monitoring.dashboard.dashboard_name}",
            description="CloudWatch dashboard",
        )
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn, description="Alarms notify this topic")
