"""The template as a whole: it deploys (cfn-lint), it has no dependency cycle, and nothing in it costs money idle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from tests.cfn import parley_functions

# Every resource type in the stack, each billed per use or free. A new type has to be added here deliberately.
FREE_WHEN_IDLE = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Stage",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::Function",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudFront::ResponseHeadersPolicy",  # no charge of its own
    "AWS::Lambda::Url",  # a function URL costs only its function's invocations
    "AWS::DynamoDB::Table",  # on demand; storage beyond the free 25 GB is $0.25/GB-month
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping",  # reading a DynamoDB stream from Lambda is free; invocations are billed
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",  # the web build: a few MB; the history bucket: emptied daily; the files bucket: what is kept
    "Custom::S3BucketNotifications",  # the buckets' events for the import and file workers, set at deploy time
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::Queue",  # the file worker's failures: billed per request, none while empty
    "AWS::SQS::QueuePolicy",
    "Custom::CDKBucketDeployment",
    "Custom::S3AutoDeleteObjects",
}
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))
# What costs money while nobody uses Parley: $0.40 a month per secret (the JWT secret, and the secret that proves to
# the HTTP API that a request came through CloudFront); $0.10 a month per alarm (an account's first 10 are free); the
# dashboard ($3 a month past an account's first 3). infra/README.md adds them up; `-c monitoring=off` drops those.
BILLED_MONTHLY = {"AWS::SecretsManager::Secret", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"}
# Besides each function's errors and throttles: dropped answers, files the file worker died on, table read and write
# throttles, 5xx.
OTHER_ALARMS = 5


def test_synth_writes_an_assembly_this_cli_reads(cloud_assembly: Path) -> None:
    manifest = json.loads((cloud_assembly / "manifest.json").read_text())
    assert manifest["version"].split(".")[0] == "55"  # cloud-assembly schema of aws-cdk-lib 2.275 and the CLI
    assert manifest["artifacts"]["Parley"]["environment"] == "aws://123456789012/us-east-1"


def test_cfn_lint_finds_nothing(template_path: Path) -> None:
    # W3005 (a DependsOn also implied by a GetAtt) is how the CDK writes every function's role dependency.
    result = subprocess.run(
        [CFN_LINT, "--regions", "us-east-1", "--ignore-checks", "W3005", "--", str(template_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_resource_depends_on_itself(template_json: dict[str, Any]) -> None:
    # Template.from_json refuses a template with a dependency cycle (a function's environment naming the
    # distribution that fronts its own API would be one).
    Template.from_json(template_json)


def test_nothing_costs_money_while_idle(template_json: dict[str, Any]) -> None:
    types = {body["Type"] for body in template_json["Resources"].values()}
    assert types - FREE_WHEN_IDLE - BILLED_MONTHLY == set()
    alarms = 2 * len(parley_functions(template_json)) + OTHER_ALARMS
    billed = [body["Type"] for body in template_json["Resources"].values() if body["Type"] in BILLED_MONTHLY]
    assert sorted(billed) == sorted(
        ["AWS::SecretsManager::Secret"] * 2 + ["AWS::CloudWatch::Alarm"] * alarms + ["AWS::CloudWatch::Dashboard"]
    )
