"""Context the stack is built from: defaults, refusals, and the optional OpenAI key (built in-process)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from deployed import summary
from parley_stack import DeploySettings, ParleyStack, SettingsError
from parley_stack.settings import DEFAULT_BEDROCK_MODELS, REPO_ROOT
from tests.cfn import deployed_config, distribution_config, parley_functions, resources

OPENAI_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:parley/openai-AbCdEf"
WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/parley-rate/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"


def context(**values: str) -> Any:
    return lambda key: values.get(key)


def test_defaults_are_the_repository_build_directories() -> None:
    with pytest.raises(SettingsError, match="make deploy"):
        DeploySettings.from_context(context(lambdaAsset="no/such/dir"))
    settings = DeploySettings(lambda_asset=Path("/x"), web_dist=Path("/y"))
    assert settings.bedrock_models == DEFAULT_BEDROCK_MODELS
    assert (REPO_ROOT / "infra" / "app.py").is_file()


def test_a_missing_web_build_is_refused_with_what_to_do(placeholder_assets: tuple[Path, Path]) -> None:
    code, _ = placeholder_assets
    with pytest.raises(SettingsError, match="web app build"):
        DeploySettings.from_context(context(lambdaAsset=str(code), webDist="no/such/dist"))


def test_the_openai_secret_must_be_an_arn(placeholder_assets: tuple[Path, Path]) -> None:
    code, web = placeholder_assets
    with pytest.raises(SettingsError, match="complete ARN"):
        DeploySettings.from_context(
            context(lambdaAsset=str(code), webDist=str(web), openaiKeySecretArn="parley/openai")
        )


@dataclass(frozen=True)
class Synthesized:
    template: dict[str, Any]
    assembly: Path  # the cloud assembly: assets such as the deployed config.json


@pytest.fixture(scope="module")
def with_openai(placeholder_assets: tuple[Path, Path]) -> Synthesized:
    code, web = placeholder_assets
    settings = DeploySettings.from_context(
        context(
            lambdaAsset=str(code),
            webDist=str(web),
            openaiKeySecretArn=OPENAI_SECRET,
            openaiBaseUrl="https://llm.example.com/v1",
            bedrockModels="amazon.nova-lite-v1:0",
            appName="  Team   Chat ",
        )
    )
    app = cdk.App()
    stack = ParleyStack(
        app, "Parley", settings=settings, env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    return Synthesized(Template.from_stack(stack).to_json(), Path(app.outdir))


def test_the_app_name_reaches_the_deployed_config_json(with_openai: Synthesized) -> None:
    assert deployed_config(with_openai.template, with_openai.assembly)["app_name"] == "Team Chat"


def test_an_app_name_that_does_not_fit_is_refused(placeholder_assets: tuple[Path, Path]) -> None:
    code, web = placeholder_assets
    for name in ("x" * 41, "Team\x07Chat"):
        with pytest.raises(SettingsError, match="appName"):
            DeploySettings.from_context(context(lambdaAsset=str(code), webDist=str(web), appName=name))


def test_the_openai_key_is_read_only_by_the_functions_that_list_or_run_models(with_openai: Synthesized) -> None:
    readers, told = set(), set()
    for name, function in parley_functions(with_openai.template).items():
        variables = function.properties["Environment"]["Variables"]
        assert variables["PARLEY_BEDROCK_MODELS"] == "amazon.nova-lite-v1:0"
        assert variables["OPENAI_BASE_URL"] == "https://llm.example.com/v1"
        if OPENAI_SECRET in function.resources_for("secretsmanager:GetSecretValue"):
            readers.add(name)
        if variables.get("PARLEY_OPENAI_API_KEY_SECRET_ARN") == OPENAI_SECRET:
            told.add(name)
    assert readers == told == {"http_api", "ws_sendprompt", "worker", "openai_api"}


@pytest.fixture(scope="module")
def tuned(placeholder_assets: tuple[Path, Path]) -> dict[str, Any]:
    """A deployment with concurrency reserved for the workers, its own throttling, a WAF web ACL, and an embedding
    model."""
    code, web = placeholder_assets
    settings = DeploySettings.from_context(
        context(
            lambdaAsset=str(code),
            webDist=str(web),
            workerConcurrency="20",
            fileWorkerConcurrency="3",
            apiRateLimit="12.5",
            apiBurstLimit="25",
            webAclArn=WEB_ACL,
            embeddingModel=EMBEDDING_MODEL,
        )
    )
    app = cdk.App()
    stack = ParleyStack(
        app, "Parley", settings=settings, env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    return Template.from_stack(stack).to_json()


def test_concurrency_is_reserved_for_the_workers_when_asked(tuned: dict[str, Any]) -> None:
    reserved = {
        name: function.properties.get("ReservedConcurrentExecutions")
        for name, function in parley_functions(tuned).items()
    }
    assert reserved.pop("worker") == 20
    assert reserved.pop("file_worker") == 3
    assert set(reserved.values()) == {None}


def test_an_embedding_model_is_told_to_and_invocable_by_the_functions_that_embed_only(
    tuned: dict[str, Any], template_json: dict[str, Any]
) -> None:
    titan = f"arn:${{AWS::Partition}}:bedrock:us-east-1::foundation-model/{EMBEDDING_MODEL}"  # built in-process
    told = set()
    for name, function in parley_functions(tuned).items():
        variables = function.properties["Environment"]["Variables"]
        if "PARLEY_EMBEDDING_MODEL" in variables:
            assert (variables["PARLEY_EMBEDDING_MODEL"], variables["PARLEY_EMBEDDING_PROVIDER"]) == (
                EMBEDDING_MODEL,
                "bedrock",
            )
            told.add(name)
            # This one model only, unless the function runs models anyway.
            assert titan in function.resources_for("bedrock:InvokeModel") or name == "http_api", name
    # Indexing a document's passages, and finding those for a question (where a turn is prepared).
    assert told == {"file_worker", "ws_sendprompt", "http_api"}
    for name in ("file_worker", "ws_sendprompt"):
        function = parley_functions(tuned)[name]
        assert function.resources_for("bedrock:InvokeModel") == [titan], name
        assert function.resources_for("bedrock:InvokeModelWithResponseStream") == [], name
    # Without the setting, nobody is told of one and neither may invoke a model.
    for name, function in parley_functions(template_json).items():
        assert "PARLEY_EMBEDDING_MODEL" not in function.properties["Environment"]["Variables"], name
    for name in ("file_worker", "ws_sendprompt"):
        assert parley_functions(template_json)[name].resources_for("bedrock:InvokeModel") == [], name


def test_the_stages_throttle_as_asked(tuned: dict[str, Any]) -> None:
    stages = resources(tuned, "AWS::ApiGatewayV2::Stage").values()
    assert [stage["Properties"]["DefaultRouteSettings"] for stage in stages] == [
        {"ThrottlingRateLimit": 12.5, "ThrottlingBurstLimit": 25}
    ] * 2


def test_the_web_acl_fronts_the_distribution(tuned: dict[str, Any]) -> None:
    assert distribution_config(tuned)["WebACLId"] == WEB_ACL


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("workerConcurrency", "0", "at least 1"),
        ("workerConcurrency", "many", "a number"),
        ("fileWorkerConcurrency", "0", "at least 1"),
        ("embeddingModel", "titan embeddings", "one Bedrock model id"),
        ("apiRateLimit", "0", "above zero"),
        ("apiBurstLimit", "1.5", "a number"),
        ("webAclArn", "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/y", "us-east-1"),
    ],
)
def test_limits_and_the_web_acl_are_checked(
    placeholder_assets: tuple[Path, Path], key: str, value: str, message: str
) -> None:
    code, web = placeholder_assets
    with pytest.raises(SettingsError, match=message):
        DeploySettings.from_context(context(lambdaAsset=str(code), webDist=str(web), **{key: value}))


def test_the_deploy_summary_says_how_to_add_a_user() -> None:
    outputs = {
        "Parley": {
            "SiteUrl": "https://d111.cloudfront.net",
            "HttpApiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com",
            "WebSocketUrl": "wss://def.execute-api.eu-west-1.amazonaws.com/prod",
            "TableName": "Parley-StorageTable-XYZ",
            "Region": "eu-west-1",
        }
    }
    text = summary(json.loads(json.dumps(outputs)))
    assert "Parley is deployed: https://d111.cloudfront.net" in text
    assert "AWS_REGION=eu-west-1 PARLEY_DYNAMODB_TABLE=Parley-StorageTable-XYZ" in text
    assert "parley users add NAME --admin --store dynamodb" in text


def test_sign_up_is_off_unless_the_deployment_opens_it(template_json: dict[str, Any], placeholder_assets) -> None:
    app_function = parley_functions(template_json)["http_api"]
    assert app_function.properties["Environment"]["Variables"]["PARLEY_SIGNUP"] == "off"
    code, web = placeholder_assets
    values = {"lambdaAsset": str(code), "webDist": str(web), "signup": "open", "signupDomains": "example.org"}
    stack = ParleyStack(
        cdk.App(),
        "Parley",
        settings=DeploySettings.from_context(values.get),
        env=cdk.Environment(account="123456789012", region="us-east-1"),
    )
    opened = parley_functions(Template.from_stack(stack).to_json())["http_api"]
    variables = opened.properties["Environment"]["Variables"]
    assert (variables["PARLEY_SIGNUP"], variables["PARLEY_SIGNUP_DOMAINS"]) == ("open", "example.org")
    with pytest.raises(SettingsError, match="signup must be one of"):
        DeploySettings.from_context({**values, "signup": "everyone"}.get)
