from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cfn import flatten, only, parley_functions, prompts_topic, references, resources, websocket_api

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS_SOURCE = REPO_ROOT / "src" / "parley" / "aws" / "handlers"

# The contract with src/parley/aws/handlers: module -> (timeout in seconds, memory in MB, or None for any).
CONTRACT = {
    "http_api": (30, 512),
    "authorizer": (10, None),
    "ws_connect": (10, None),
    "ws_disconnect": (10, None),
    "ws_sendprompt": (29, None),
    "ws_stop": (10, None),
    "ws_default": (10, None),
    "worker": (900, 1024),
    "session_end": (30, None),
    "openai_api": (900, 512),
    "import_worker": (900, 1024),
    "file_worker": (300, 2048),
}
# The session-end function's stream filter, beside its code (the local emulation applies the same file).
SESSION_END_FILTER = REPO_ROOT / "src" / "parley" / "aws" / "functions" / "session_end_filter.json"
ENVIRONMENT = {
    "PARLEY_STORE": "dynamodb",
    "PARLEY_LOCAL_MODEL": "off",
    "PARLEY_DATA_DIR": "/tmp/parley",
    "PARLEY_BEDROCK_MODELS": "anthropic.claude-3-haiku-20240307-v1:0,amazon.nova-lite-v1:0",
}


def test_every_handler_in_the_contract_and_no_other(template_json: dict[str, Any]) -> None:
    functions = parley_functions(template_json)
    assert sorted(functions) == sorted(CONTRACT)
    for name, function in functions.items():
        if name == "openai_api":  # the Lambda Web Adapter runs the startup script, which runs the module
            assert function.properties["Handler"] == "openai_api.sh"
            continue
        assert function.properties["Handler"] == f"parley.aws.handlers.{name}.handler"


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_python_3_12_on_arm64_with_the_agreed_limits(template_json: dict[str, Any], name: str) -> None:
    properties = parley_functions(template_json)[name].properties
    timeout, memory = CONTRACT[name]
    assert properties["Runtime"] == "python3.12"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Timeout"] == timeout
    if memory is not None:
        assert properties["MemorySize"] == memory


def test_one_code_asset_for_every_function(template_json: dict[str, Any]) -> None:
    codes = {flatten(function.properties["Code"]) for function in parley_functions(template_json).values()}
    assert len(codes) == 1


def test_every_function_is_told_where_everything_is(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    topic, _ = prompts_topic(template_json)
    (distribution,) = resources(template_json, "AWS::CloudFront::Distribution")
    for function in parley_functions(template_json).values():
        variables = function.properties["Environment"]["Variables"]
        assert ENVIRONMENT.items() <= variables.items(), function.name
        assert references(variables["PARLEY_DYNAMODB_TABLE"]) == {table}
        assert references(variables["PARLEY_SNS_TOPIC_ARN"]) == {topic}
        if function.name != "openai_api":  # no page, no Origin to check (and no cycle through the distribution)
            assert flatten(variables["PARLEY_ALLOWED_ORIGINS"]) == "https://${" + distribution + ".DomainName}"
        # No key is configured without context: nothing to read.
        assert "PARLEY_OPENAI_API_KEY_SECRET_ARN" not in variables
        assert "OPENAI_BASE_URL" not in variables


def test_the_jwt_secret_is_named_exactly_where_it_may_be_read(template_json: dict[str, Any]) -> None:
    # The handlers read every secret they are told of at cold start: naming one a function may not read breaks it.
    (secret,) = [name for name in resources(template_json, "AWS::SecretsManager::Secret") if "JwtSecret" in name]
    told, allowed = set(), set()
    for name, function in parley_functions(template_json).items():
        variables = function.properties["Environment"]["Variables"]
        if "PARLEY_JWT_SECRET_ARN" in variables:
            assert references(variables["PARLEY_JWT_SECRET_ARN"]) == {secret}
            told.add(name)
        if "${" + secret + "}" in function.resources_for("secretsmanager:GetSecretValue"):
            allowed.add(name)
    # Only the functions that sign or check tokens and tickets (the others never read it).
    assert told == allowed == {"http_api", "authorizer", "ws_connect"}


def test_the_websocket_callback_url_is_the_stage(template_json: dict[str, Any]) -> None:
    (api,) = websocket_api(template_json)
    for function in parley_functions(template_json).values():
        url = flatten(function.properties["Environment"]["Variables"]["PARLEY_WS_CALLBACK_URL"])
        assert url == "https://${" + api + "}.execute-api.us-east-1.${AWS::URLSuffix}/prod"


def test_every_function_logs_to_a_group_kept_14_days(template_json: dict[str, Any]) -> None:
    groups = resources(template_json, "AWS::Logs::LogGroup")
    for function in parley_functions(template_json).values():
        (group,) = references(function.properties["LoggingConfig"]["LogGroup"])
        assert groups[group]["Properties"]["RetentionInDays"] == 14, function.name
    # The CDK's own deployment function too: no log group in the stack keeps logs forever.
    assert all(group["Properties"].get("RetentionInDays") == 14 for group in groups.values())


def test_no_vpc_no_provisioned_concurrency_and_no_reserved_concurrency_unless_asked(
    template_json: dict[str, Any],
) -> None:
    # Reserving concurrency needs an account quota that leaves 100 unreserved, which a new account (10) has not:
    # the worker gets some only with the workerConcurrency context (test_settings.py).
    for body in resources(template_json, "AWS::Lambda::Function").values():
        assert "VpcConfig" not in body["Properties"]
        assert "ReservedConcurrentExecutions" not in body["Properties"]
    for resource_type in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
        for body in resources(template_json, resource_type).values():
            assert "ProvisionedConcurrencyConfig" not in body["Properties"]
    assert not [body["Type"] for body in template_json["Resources"].values() if body["Type"].startswith("AWS::EC2::")]


def test_the_worker_is_subscribed_to_the_prompts_topic(template_json: dict[str, Any]) -> None:
    worker = parley_functions(template_json)["worker"]
    topic, _ = prompts_topic(template_json)
    [subscription] = [
        body
        for body in resources(template_json, "AWS::SNS::Subscription").values()
        if references(body["Properties"]["TopicArn"]) == {topic}
    ]
    assert subscription["Properties"]["Protocol"] == "lambda"
    assert references(subscription["Properties"]["Endpoint"]) == {worker.logical_id}
    assert references(subscription["Properties"]["TopicArn"]) == {topic}
    invoke_permissions = [
        body["Properties"]
        for body in resources(template_json, "AWS::Lambda::Permission").values()
        if body["Properties"]["Principal"] == "sns.amazonaws.com"
    ]
    assert [references(p["FunctionName"]) for p in invoke_permissions] == [{worker.logical_id}]
    assert [references(p["SourceArn"]) for p in invoke_permissions] == [{topic}]


def invoke_configs(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's asynchronous invocation settings, by function name."""
    names = {function.logical_id: name for name, function in parley_functions(template_json).items()}
    configs = {}
    for body in resources(template_json, "AWS::Lambda::EventInvokeConfig").values():
        (function,) = references(body["Properties"]["FunctionName"])
        configs[names[function]] = body["Properties"]
    return configs


def test_a_failed_answer_is_not_run_again(template_json: dict[str, Any]) -> None:
    config = invoke_configs(template_json)["worker"]
    assert config["MaximumRetryAttempts"] == 0
    # One that cannot start (throttled) waits 15 minutes at most, not 6 hours: its answer slot is leased for 16.
    assert config["MaximumEventAgeInSeconds"] == 15 * 60
    assert "DestinationConfig" not in config


def test_a_file_is_processed_once_and_one_the_worker_died_on_is_queued(template_json: dict[str, Any]) -> None:
    configs = invoke_configs(template_json)
    assert set(configs) == {"worker", "file_worker"}
    config = configs["file_worker"]
    # A file that broke the worker would break it again (a parser bomb): no retry.
    assert config["MaximumRetryAttempts"] == 0
    assert config["MaximumEventAgeInSeconds"] == 60 * 60
    (queue,) = resources(template_json, "AWS::SQS::Queue")
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert references(destination) == {queue}
    properties = template_json["Resources"][queue]["Properties"]
    assert properties["SqsManagedSseEnabled"] is True
    assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600
    worker = parley_functions(template_json)["file_worker"]
    assert worker.resources_for("sqs:SendMessage") == ["${" + queue + ".Arn}"]
    others = [f.name for f in parley_functions(template_json).values() if f.name != "file_worker"]
    assert all(not parley_functions(template_json)[name].resources_for("sqs:SendMessage") for name in others)


def test_the_session_end_function_gets_the_tables_changes_through_its_filter(template_json: dict[str, Any]) -> None:
    session_end = parley_functions(template_json)["session_end"]
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    _, mapping = only(template_json, "AWS::Lambda::EventSourceMapping")
    properties = mapping["Properties"]
    assert references(properties["FunctionName"]) == {session_end.logical_id}
    assert flatten(properties["EventSourceArn"]) == "${" + table + ".StreamArn}"
    assert properties["StartingPosition"] == "LATEST"
    patterns = [json.loads(entry["Pattern"]) for entry in properties["FilterCriteria"]["Filters"]]
    assert patterns == json.loads(SESSION_END_FILTER.read_text())
    # Only logouts (a revoked token inserted) and changed or removed users reach it.
    assert sorted(name for pattern in patterns for name in pattern["eventName"]) == ["INSERT", "MODIFY", "REMOVE"]
    # A batch that keeps failing is given up after a few tries instead of holding up the shard for a day.
    assert properties["MaximumRetryAttempts"] == 3
    assert properties["BisectBatchOnFunctionError"] is True


@pytest.mark.skipif(not HANDLERS_SOURCE.is_dir(), reason="src/parley/aws/handlers is not written yet")
@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_the_handler_exists_in_the_source(name: str) -> None:
    module = HANDLERS_SOURCE / f"{name}.py"
    assert module.is_file(), f"{module} is missing"
    defined = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            defined |= {alias.asname or alias.name for alias in node.names}
    if name == "openai_api":  # run as a program by its startup script (the Lambda Web Adapter), not called
        assert "main" in defined and 'if __name__ == "__main__":' in module.read_text()
        return
    assert "handler" in defined, f"{module} defines no top-level `handler`"


def test_the_openai_api_streams_from_a_function_url_through_the_web_adapter(template_json: dict[str, Any]) -> None:
    function = parley_functions(template_json)["openai_api"]
    variables = function.properties["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["AWS_LWA_READINESS_CHECK_PATH"] == "/v1/ready"
    (layer,) = function.properties["Layers"]
    assert flatten(layer) == "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerArm64:26"
    _, url = only(template_json, "AWS::Lambda::Url")
    assert references(url["Properties"]["TargetFunctionArn"]) == {function.logical_id}
    assert url["Properties"]["InvokeMode"] == "RESPONSE_STREAM"
    # No IAM auth (CloudFront's OAC would need every POST body's hash from the client): the origin secret instead.
    assert url["Properties"]["AuthType"] == "NONE"
    assert "PARLEY_CLOUDFRONT_SECRET_ARN" in variables
