"""The whole serverless system on one machine: moto for DynamoDB (and its stream), SNS and Secrets Manager,
the gateway in front, and the real Lambda functions in local containers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from parley.aws.dynamodb.schema import create_table
from parley.aws.files_bucket import FILES_PREFIX
from parley.aws.functions.authorizer import AuthorizerFunction
from parley.aws.functions.connect import ConnectFunction
from parley.aws.functions.files import FileWorkerFunction
from parley.aws.functions.http_api import HttpApiFunction
from parley.aws.functions.imports import ImportWorkerFunction
from parley.aws.functions.sendprompt import SendPromptFunction
from parley.aws.functions.sessions import SessionEndFunction, stream_filter
from parley.aws.functions.websocket import (
    DefaultFunction,
    DisconnectFunction,
    StopFunction,
)
from parley.aws.functions.worker import WorkerFunction
from parley.aws.history_bucket import IMPORTS_PREFIX
from parley.aws.local.bucket_events import BucketNotification
from parley.aws.local.containers import FunctionPool
from parley.aws.local.events import CloudFront
from parley.aws.local.function_url import serve_function_url
from parley.aws.local.gateway import Functions, Gateway
from parley.aws.local.iam import restricted_stores
from parley.aws.local.streams import StreamMapping
from parley.aws.upload_cors import upload_cors
from parley.background import in_background
from parley.config import Settings
from parley.core.files.base import ORIGINAL
from parley.server.embedded import serving
from parley.server.middleware.trusted_host import trusted_hosts

log = logging.getLogger(__name__)

# moto accepts any credentials; boto3 only needs some to sign requests.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class LocalDeployment:
    url: str
    """The site: CloudFront, with the HTTP API under /api."""
    api_url: str
    """The HTTP API at its own URL, without CloudFront."""
    function_url: str
    """The OpenAI-compatible function's URL, without CloudFront (which sends /v1/* there)."""
    ws_url: str
    aws_endpoint: str
    table: str
    history_bucket: str
    files_bucket: str
    settings: Settings
    gateway: Gateway
    sessions_stream: StreamMapping
    """The table's stream feeding the session-end function."""
    refused_table_calls: list[str]
    """The table calls refused because the function's deployed role would not allow them (see ``iam``)."""

    def cli_env(self) -> dict[str, str]:
        """The environment for ``parley users add NAME --store dynamodb`` against this deployment."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "PARLEY_STORE": "dynamodb",
            "PARLEY_DYNAMODB_TABLE": self.table,
        }


@contextlib.asynccontextmanager
async def run_local_deployment(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    data_dir: Path,
    web_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[LocalDeployment]:
    import boto3

    from parley.aws.local.moto_server import MotoServer

    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    env = dict(os.environ if env is None else env)
    moto = MotoServer()
    aws_endpoint = moto.start()
    # moto keeps its state per process: unique names keep two deployments in one process apart (tests).
    suffix = secrets.token_hex(4)
    table = f"parley-{suffix}"
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint)
    try:
        stream_arn = await asyncio.to_thread(create_table, dynamodb, table)
        sns = boto3.client("sns", endpoint_url=aws_endpoint)
        topic_arn = sns.create_topic(Name=f"parley-prompts-{suffix}")["TopicArn"]
        secrets_manager = boto3.client("secretsmanager", endpoint_url=aws_endpoint)
        secret_arn = secrets_manager.create_secret(Name=f"parley-jwt-{suffix}", SecretString=secrets.token_hex(32))[
            "ARN"
        ]
        # CloudFront's origin secret: the distribution sends it, and only the HTTP API's function is told of it.
        origin_secret = secrets.token_hex(32)
        origin_secret_arn = secrets_manager.create_secret(
            Name=f"parley-cloudfront-{suffix}", SecretString=origin_secret
        )["ARN"]
        history_bucket = f"parley-history-{suffix}"
        s3 = boto3.client("s3", endpoint_url=aws_endpoint)
        s3.create_bucket(Bucket=history_bucket)
        files_bucket = f"parley-files-{suffix}"
        s3.create_bucket(Bucket=files_bucket)

        holder: dict[str, Settings] = {}
        refused: list[str] = []

        def pool(function_class: type, name: str, size: int, **told: str) -> FunctionPool:
            # Each function reaches the table through a client that IAM-checks its calls, as its deployed role does.
            client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
            stores = restricted_stores(name, client, table, refused)
            return FunctionPool(
                name,
                lambda: function_class(settings=holder["settings"].with_overrides(**told), env=env, stores=stores),
                size,
            )

        functions = Functions(
            http_api=pool(HttpApiFunction, "http_api", 4, cloudfront_secret_arn=origin_secret_arn),
            authorizer=pool(AuthorizerFunction, "authorizer", 2),
            connect=pool(ConnectFunction, "ws_connect", 2),
            disconnect=pool(DisconnectFunction, "ws_disconnect", 2),
            routes={
                "sendprompt": pool(SendPromptFunction, "ws_sendprompt", 2),
                "stop": pool(StopFunction, "ws_stop", 2),
                "$default": pool(DefaultFunction, "ws_default", 1),
            },
            worker=pool(WorkerFunction, "worker", 8),
        )
        # Not behind the gateway: the table's stream invokes one, the buckets' notifications the others.
        session_end = pool(SessionEndFunction, "session_end", 1)
        import_worker = pool(ImportWorkerFunction, "import_worker", 2)
        uploads = BucketNotification(s3, history_bucket, IMPORTS_PREFIX, import_worker)
        file_worker = pool(FileWorkerFunction, "file_worker", 2)
        # As the deployed bucket's filter says: originals only, not what the worker writes beside them.
        originals = BucketNotification(s3, files_bucket, FILES_PREFIX, file_worker, suffix=f"/{ORIGINAL}")
        sessions_stream = StreamMapping(
            boto3.client("dynamodbstreams", endpoint_url=aws_endpoint), stream_arn, session_end, stream_filter()
        )
        # The gateway's own limits (read deadline, WebSocket message size) come from the same settings.
        edge = Settings.from_env(env, **(overrides or {}))
        gateway = Gateway(
            functions=functions,
            topic_arn=topic_arn,
            web_dir=web_dir,
            app_name=edge.app_name,
            trusted_hosts=trusted_hosts(edge.with_overrides(host=host)),
            cloudfront=CloudFront(origin_secret),
            upload_origin=aws_endpoint,
        )
        try:
            async with (
                serving(gateway.app(), host, port, settings=edge) as bound_port,
                serving(gateway.api_app(), host, 0, settings=edge) as api_port,
            ):
                url = f"http://{host}:{bound_port}"
                holder["settings"] = Settings.from_env(
                    env,
                    data_dir=data_dir,
                    store="dynamodb",
                    dynamodb_table=table,
                    aws_endpoint_url=aws_endpoint,
                    sns_topic_arn=topic_arn,
                    jwt_secret_arn=secret_arn,
                    history_bucket=history_bucket,
                    files_bucket=files_bucket,
                    **{
                        "ws_callback_url": url,
                        "allowed_origins": (url,),  # the web app is served by this same gateway
                        **(overrides or {}),
                    },
                )
                sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=f"{url}/_sns/worker")
                # The buckets answer the site's uploads, as the deployed buckets' CORS rules say.
                for bucket in (history_bucket, files_bucket):
                    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=upload_cors(url))
                openai_client = boto3.client("dynamodb", endpoint_url=aws_endpoint)
                async with (
                    serve_function_url(
                        holder["settings"].with_overrides(cloudfront_secret_arn=origin_secret_arn),
                        restricted_stores("openai_api", openai_client, table, refused),
                        env,
                        host,
                    ) as function_url,
                    httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5)) as origin_client,
                    in_background(sessions_stream.run()),
                    in_background(uploads.run()),
                    in_background(originals.run()),
                ):
                    gateway.function_url, gateway.origin_client = function_url, origin_client
                    try:
                        yield LocalDeployment(
                            url=url,
                            api_url=f"http://{host}:{api_port}",
                            function_url=function_url,
                            ws_url=f"ws://{host}:{bound_port}/ws",
                            aws_endpoint=aws_endpoint,
                            table=table,
                            history_bucket=history_bucket,
                            files_bucket=files_bucket,
                            settings=holder["settings"],
                            gateway=gateway,
                            sessions_stream=sessions_stream,
                            refused_table_calls=refused,
                        )
                    finally:
                        await gateway.drain()
        finally:
            for function_pool in [*functions.all(), session_end, import_worker, file_worker]:
                await asyncio.to_thread(function_pool.close)
    finally:
        # moto's state lives as long as the process, and the emulation's data goes with it anyway: drop the
        # table, or a process that opens many deployments (the tests) keeps every item of all of them, and
        # each full garbage collection walks them all (pauses near a second by the end of the test suite).
        try:
            await asyncio.to_thread(dynamodb.delete_table, TableName=table)
        except Exception:
            log.warning("could not drop the emulated table %s", table, exc_info=True)
        moto.stop()
