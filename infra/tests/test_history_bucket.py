"""The history bucket: private, encrypted, TLS only, posted to by the site's pages only, emptied daily; the import
worker runs on its uploads; each function may touch only its own prefix of it."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from tests.cfn import flatten, parley_functions, references, resources
from tests.upload_buckets import (
    assert_encrypted_and_posted_to_by_the_site_only,
    assert_refuses_plain_http,
    lambda_notification,
    upload_bucket,
)

BUCKET_NAME = "parley-history-123456789012-us-east-1"  # the synth's placeholder account and region


def history_bucket(template_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return upload_bucket(template_json, BUCKET_NAME)


def test_the_bucket_is_encrypted_posted_to_by_the_site_only_and_kept_a_day(template_json: dict[str, Any]) -> None:
    _, bucket = history_bucket(template_json)
    assert_encrypted_and_posted_to_by_the_site_only(template_json, bucket)
    rules = {rule["Prefix"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert set(rules) == {"exports/", "imports/"}
    assert all(rule["ExpirationInDays"] == 1 and rule["Status"] == "Enabled" for rule in rules.values())
    assert rules["exports/"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_the_bucket_refuses_plain_http(template: Template, template_json: dict[str, Any]) -> None:
    assert_refuses_plain_http(template, history_bucket(template_json)[0])


def test_an_upload_invokes_the_import_worker(template_json: dict[str, Any]) -> None:
    logical_id, _ = history_bucket(template_json)
    worker = parley_functions(template_json)["import_worker"]
    configuration = lambda_notification(template_json, logical_id)
    assert configuration["Filter"] == {"Key": {"FilterRules": [{"Name": "prefix", "Value": "imports/"}]}}
    assert references(configuration["LambdaFunctionArn"]) == {worker.logical_id}


def bucket_statements(
    template_json: dict[str, Any], function_name: str, bucket: str | None = None
) -> list[dict[str, Any]]:
    """The function's S3 statements on ``bucket`` (by logical id; the history bucket unless given)."""
    bucket = bucket or history_bucket(template_json)[0]
    function = parley_functions(template_json)[function_name]
    role = references(function.properties["Role"])
    statements = []
    for policy in resources(template_json, "AWS::IAM::Policy"):
        properties = template_json["Resources"][policy]["Properties"]
        if references(properties["Roles"]) & role:
            statements += [
                s
                for s in properties["PolicyDocument"]["Statement"]
                if "s3:" in str(s["Action"]) and bucket in references(s["Resource"])
            ]
    return statements


def granted(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Actions by the object keys they are granted on (the part of the ARN after the bucket)."""
    by_keys: dict[str, set[str]] = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        named = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in named:
            by_keys.setdefault(flatten(resource).split("}/", 1)[-1], set()).update(actions)
    return by_keys


def test_each_function_may_touch_only_its_prefix_of_the_bucket(template_json: dict[str, Any]) -> None:
    assert granted(bucket_statements(template_json, "http_api")) == {
        "exports/*": {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"},
        "imports/*": {"s3:PutObject"},
    }
    assert granted(bucket_statements(template_json, "import_worker")) == {
        "imports/*": {"s3:GetObject", "s3:DeleteObject"}
    }
    for name in parley_functions(template_json):
        if name not in ("http_api", "import_worker"):
            assert bucket_statements(template_json, name) == [], name


def test_the_functions_that_use_it_are_told_its_name(template_json: dict[str, Any]) -> None:
    for name, function in parley_functions(template_json).items():
        variables = function.properties["Environment"]["Variables"]
        if name in ("http_api", "import_worker"):
            assert flatten(variables["PARLEY_HISTORY_BUCKET"]) == BUCKET_NAME or references(
                variables["PARLEY_HISTORY_BUCKET"]
            )
        else:
            assert "PARLEY_HISTORY_BUCKET" not in variables
    worker = parley_functions(template_json)["import_worker"]
    assert worker.properties["EphemeralStorage"] == {"Size": 1024}
