"""The Lambda functions: one code asset, one handler module each, and only the grants each handler needs.

Every handler is `parley.aws.handlers.<name>.handler`; the table below is the whole contract with that code.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from parley_stack.settings import REPO_ROOT, DeploySettings
from parley_stack.storage import Storage
from parley_stack.websocket import CLOSE_METHOD, WebSocket

HANDLER_PACKAGE = "parley.aws.handlers"
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.TWO_WEEKS
WORKER_QUEUE_AGE = Duration.minutes(15)
# Extraction's own limit (60 s), indexing and embedding the passages, and room to mark the file ERROR before the end.
FILE_WORKER_TIMEOUT_SECONDS = 300
FILE_WORKER_QUEUE_AGE = Duration.hours(1)
# The OpenAI-compatible function streams its answers: a function URL with InvokeMode RESPONSE_STREAM, and the Lambda
# Web Adapter (a layer published by AWS Labs) between Lambda and the function's own web server. Its handler is the
# startup script that scripts/build_lambda_bundle.py writes at the code's root.
WEB_ADAPTER_LAYER = "arn:aws:lambda:{region}:753240598075:layer:LambdaAdapterLayerArm64:26"
WEB_ADAPTER_STARTUP = "openai_api.sh"
WEB_ADAPTER_PORT = "8080"
OPENAI_API_READY_PATH = "/v1/ready"
BEDROCK_ACTIONS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# Which stream records the session-end function is given: a file beside its code, which the local emulation
# applies too.
SESSION_END_FILTER = REPO_ROOT / "src" / "parley" / "aws" / "functions" / "session_end_filter.json"
# What each function may do to the table, by kind of item: a file beside the code, which the local emulation
# enforces too (it imports nothing, so it is loaded by path: infra/.venv does not install parley).
TABLE_ACCESS_FILE = REPO_ROOT / "src" / "parley" / "aws" / "functions" / "table_access.py"


@dataclass(frozen=True)
class TableAccess:
    actions: Mapping[str, Sequence[str]]
    """DynamoDB action on the table -> the partition-key patterns it may be called on."""
    index_queries: Sequence[str]
    """The partition-key patterns of the index it may query."""
    index_name: str

    @classmethod
    def load(cls, function: str) -> TableAccess:
        names = runpy.run_path(str(TABLE_ACCESS_FILE))
        if function not in names["TABLE_ACCESS"]:
            raise KeyError(f"{function} has no entry in {TABLE_ACCESS_FILE}")
        return cls(names["TABLE_ACCESS"][function], names["INDEX_QUERIES"].get(function, ()), names["INDEX"])


@dataclass(frozen=True)
class Handler:
    construct_id: str
    description: str
    timeout_seconds: int
    memory_mb: int = 256
    checks_tokens: bool = True
    """Reads the JWT secret (signs or verifies session tokens and tickets)."""
    runs_models: bool = False
    """Calls Bedrock or an OpenAI-compatible endpoint."""
    lists_models: bool = False
    """Builds the model list (to check a request's model and parameters), which asks the OpenAI endpoint."""
    embeds: bool = False
    """Embeds text with the deployment's embedding model, when one is set (`embeddingModel`): a document's passages
    as it is indexed, or a prompt's question to find the passages to give the model."""
    publishes_prompts: bool = False
    """Publishes to the prompts topic."""
    manages_connections: bool = False
    """Posts to, reads or closes WebSocket connections."""
    closes_connections: bool = False
    """Closes WebSocket connections, and does nothing else with them."""
    reserved_by: str | None = None
    """The deploy setting (a field of ``DeploySettings``) whose concurrency, if set, is reserved for it."""
    streams_from_url: bool = False
    """A web server behind the Lambda Web Adapter, reached through a function URL that streams responses."""
    scratch_mb: int = 512
    """Lambda's ephemeral storage (its scratch directory); past 512 MB it is paid for only while used."""


HANDLERS: dict[str, Handler] = {
    "http_api": Handler(
        "HttpApiFunction",
        "Parley HTTP API (FastAPI through Mangum)",
        30,
        memory_mb=512,
        runs_models=True,
        embeds=True,
    ),
    "authorizer": Handler("AuthorizerFunction", "Parley HTTP API authorizer", 10),
    "ws_connect": Handler("WsConnectFunction", "Parley WebSocket $connect: redeems the ticket", 10),
    "ws_disconnect": Handler("WsDisconnectFunction", "Parley WebSocket $disconnect", 10, checks_tokens=False),
    "ws_sendprompt": Handler(
        "WsSendPromptFunction",
        "Parley WebSocket sendprompt: queues the answer",
        29,
        checks_tokens=False,
        lists_models=True,
        embeds=True,
        publishes_prompts=True,
        manages_connections=True,
    ),
    "ws_stop": Handler("WsStopFunction", "Parley WebSocket stop", 10, checks_tokens=False, manages_connections=True),
    "ws_default": Handler(
        "WsDefaultFunction", "Parley WebSocket $default", 10, checks_tokens=False, manages_connections=True
    ),
    "worker": Handler(
        "WorkerFunction",
        "Parley worker: runs one answer and streams it to the WebSocket",
        900,
        memory_mb=1024,
        checks_tokens=False,
        runs_models=True,
        manages_connections=True,
        reserved_by="worker_concurrency",
    ),
    "openai_api": Handler(
        "OpenAiApiFunction",
        "Parley OpenAI-compatible API (/v1), streamed through a function URL",
        900,
        memory_mb=512,
        checks_tokens=False,
        runs_models=True,
        streams_from_url=True,
    ),
    "session_end": Handler(
        "SessionEndFunction",
        "Parley session end: closes the WebSockets of sessions that ended (from the table's stream)",
        30,
        checks_tokens=False,
        closes_connections=True,
    ),
    "import_worker": Handler(
        "ImportWorkerFunction",
        "Parley import worker: imports an uploaded file (from the history bucket's event)",
        900,
        memory_mb=1024,
        checks_tokens=False,
        scratch_mb=1024,  # a copy of the upload (PARLEY_MAX_IMPORT_BYTES, 512 MB by default) and room to spare
    ),
    "file_worker": Handler(
        "FileWorkerFunction",
        "Parley file worker: extracts and indexes an uploaded file (from the files bucket's event)",
        FILE_WORKER_TIMEOUT_SECONDS,
        # Text is extracted in a child process limited to 60 s and 1 GiB of address space (FileLimits), beside
        # the function itself; at 1,769 MB and above a function gets a whole vCPU, which parsing uses.
        memory_mb=2048,
        checks_tokens=False,
        embeds=True,
        reserved_by="file_worker_concurrency",
    ),
}


def handler_path(name: str) -> str:
    return f"{HANDLER_PACKAGE}.{name}.handler"


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        storage: Storage,
        websocket: WebSocket,
    ) -> None:
        super().__init__(scope, construct_id)
        code = lambda_.Code.from_asset(str(settings.lambda_asset))
        environment = {
            "PARLEY_STORE": "dynamodb",
            "PARLEY_DYNAMODB_TABLE": storage.table.table_name,
            "PARLEY_LOCAL_MODEL": "off",
            "PARLEY_SNS_TOPIC_ARN": websocket.prompts.topic_arn,
            "PARLEY_WS_CALLBACK_URL": websocket.callback_url,
            "PARLEY_DATA_DIR": "/tmp/parley",  # noqa: S108 - Lambda's only writable directory
            "PARLEY_BEDROCK_MODELS": settings.bedrock_models,
        }
        if settings.openai_base_url:
            environment["OPENAI_BASE_URL"] = settings.openai_base_url
        openai_key = (
            secretsmanager.Secret.from_secret_complete_arn(self, "OpenAiKey", settings.openai_key_secret_arn)
            if settings.openai_key_secret_arn
            else None
        )

        self._functions: dict[str, lambda_.Function] = {}
        self.urls: dict[str, lambda_.FunctionUrl] = {}
        for name, spec in HANDLERS.items():
            function = lambda_.Function(
                self,
                spec.construct_id,
                code=code,
                handler=WEB_ADAPTER_STARTUP if spec.streams_from_url else handler_path(name),
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                description=spec.description,
                timeout=Duration.seconds(spec.timeout_seconds),
                memory_size=spec.memory_mb,
                ephemeral_storage_size=Size.mebibytes(spec.scratch_mb),
                reserved_concurrent_executions=getattr(settings, spec.reserved_by) if spec.reserved_by else None,
                environment=environment,
                log_group=logs.LogGroup(
                    self,
                    f"{spec.construct_id}Logs",
                    retention=LOG_RETENTION,
                    removal_policy=RemovalPolicy.DESTROY,
                ),
            )
            _grant_table(function, storage, TableAccess.load(name))
            # A function is told about a secret only where it may read it: the code reads every secret it is told of.
            if spec.checks_tokens:
                function.add_environment("PARLEY_JWT_SECRET_ARN", storage.jwt_secret.secret_arn)
                storage.jwt_secret.grant_read(function)
            if spec.publishes_prompts:
                websocket.prompts.grant_publish(function)
            if spec.manages_connections:
                websocket.grant_manage_connections(function)
            elif spec.closes_connections:
                websocket.grant_manage_connections(function, methods=[CLOSE_METHOD])
            if spec.runs_models:
                _grant_bedrock(function)
            if spec.embeds and settings.embedding_model:
                function.add_environment("PARLEY_EMBEDDING_PROVIDER", "bedrock")
                function.add_environment("PARLEY_EMBEDDING_MODEL", settings.embedding_model)
                if not spec.runs_models:  # which may invoke any model of the region already
                    _grant_bedrock(function, model=settings.embedding_model, actions=("bedrock:InvokeModel",))
            if (spec.runs_models or spec.lists_models) and openai_key is not None:
                function.add_environment("PARLEY_OPENAI_API_KEY_SECRET_ARN", openai_key.secret_arn)
                openai_key.grant_read(function)
            if spec.streams_from_url:
                self.urls[name] = _streaming_url(self, spec, function)
            self._functions[name] = function

        # An answer runs once: a failed worker is not invoked again with the same prompt. One that could not start
        # (throttled: the worker's reserved or the account's concurrency all in use) waits in Lambda's queue for 15
        # minutes at most, not Lambda's default of 6 hours: by then its user's answer slot is about to be freed.
        self["worker"].configure_async_invoke(retry_attempts=0, max_event_age=WORKER_QUEUE_AGE)
        # A file is processed once: one that broke the worker would break it again (a parser bomb). The worker marks
        # a file it cannot finish ERROR itself; an invocation that dies outright (out of memory), or that waited an
        # hour for concurrency, lands in this queue, which alarms (monitoring.py). It costs nothing while empty.
        self.file_worker_failures = sqs.Queue(
            self,
            "FileWorkerFailures",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self["file_worker"].configure_async_invoke(
            retry_attempts=0,
            max_event_age=FILE_WORKER_QUEUE_AGE,
            on_failure=destinations.SqsDestination(self.file_worker_failures),
        )

    def __getitem__(self, name: str) -> lambda_.Function:
        return self._functions[name]

    def by_name(self) -> Mapping[str, lambda_.Function]:
        return dict(self._functions)

    def add_environment(self, key: str, value: str, *, skip: Sequence[str] = ()) -> None:
        for name, function in self._functions.items():
            if name not in skip:
                function.add_environment(key, value)


def _streaming_url(scope: Construct, spec: Handler, function: lambda_.Function) -> lambda_.FunctionUrl:
    """The Lambda Web Adapter in front of the function's web server, and a function URL that streams.

    The URL takes no IAM auth: CloudFront's origin access control would sign requests, but Lambda then wants every
    POST body's SHA-256 from the viewer (x-amz-content-sha256), which OpenAI clients do not send. The function
    refuses instead any request without CloudFront's origin secret header."""
    layer = WEB_ADAPTER_LAYER.format(region=Stack.of(scope).region)
    function.add_layers(lambda_.LayerVersion.from_layer_version_arn(scope, f"{spec.construct_id}WebAdapter", layer))
    for key, value in {
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_PORT": WEB_ADAPTER_PORT,
        "AWS_LWA_READINESS_CHECK_PATH": OPENAI_API_READY_PATH,
    }.items():
        function.add_environment(key, value)
    return function.add_function_url(
        auth_type=lambda_.FunctionUrlAuthType.NONE, invoke_mode=lambda_.InvokeMode.RESPONSE_STREAM
    )


def session_end_filter() -> list[dict[str, Any]]:
    patterns: list[dict[str, Any]] = json.loads(SESSION_END_FILTER.read_text())
    return patterns


def _grant_table(function: lambda_.Function, storage: Storage, access: TableAccess) -> None:
    """Each action on the table for the items whose partition key it needs, and queries of the index for the
    partition keys it needs: ``dynamodb:LeadingKeys`` is the key of every item a call names (on the index, the
    index's key). No action that names no key (Scan) is granted: ``ForAllValues`` would let it through."""
    actions_by_keys: dict[tuple[str, ...], list[str]] = {}
    for action, keys in access.actions.items():
        actions_by_keys.setdefault(tuple(sorted(keys)), []).append(f"dynamodb:{action}")
    for keys, actions in sorted(actions_by_keys.items()):
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=sorted(actions), resources=[storage.table.table_arn], conditions=_leading_keys(keys)
            )
        )
    if access.index_queries:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[f"{storage.table.table_arn}/index/{access.index_name}"],
                conditions=_leading_keys(sorted(access.index_queries)),
            )
        )


def _leading_keys(patterns: Sequence[str]) -> dict[str, Any]:
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(patterns)}}


def _grant_bedrock(
    function: lambda_.Function, *, model: str | None = None, actions: Sequence[str] = BEDROCK_ACTIONS
) -> None:
    """Invoke any foundation model or inference profile in this region (a resource pattern, not an action one), or
    only ``model``."""
    stack = Stack.of(function)
    if model is not None:
        resources = [stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name=model)]
    else:
        resources = [
            stack.format_arn(service="bedrock", account="", resource="foundation-model", resource_name="*"),
            stack.format_arn(service="bedrock", resource="inference-profile", resource_name="*"),
        ]
    iam.Grant.add_to_principal(grantee=function, actions=list(actions), resource_arns=resources)
