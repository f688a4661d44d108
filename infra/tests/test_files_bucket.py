"""The files bucket: private, encrypted, TLS only, posted to by the site's pages only, kept until deleted (no expiry,
no versions, kept with the stack gone); the file worker runs on originals only; each function may touch only what it
needs of it, and nobody lists the whole bucket."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from tests.cfn import all_policy_statements, as_list, flatten, parley_functions, references, resources
from tests.test_history_bucket import bucket_statements, granted
from tests.upload_buckets import (
    assert_encrypted_and_posted_to_by_the_site_only,
    assert_refuses_plain_http,
    lambda_notification,
    upload_bucket,
)

BUCKET_NAME = "parley-files-123456789012-us-east-1"  # the synth's placeholder account and region
READERS = ("ws_sendprompt", "worker")  # build or run a chat turn with attachments


def files_bucket(template_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return upload_bucket(template_json, BUCKET_NAME)


def test_the_bucket_is_encrypted_posted_to_by_the_site_only_and_keeps_files_until_deleted(
    template_json: dict[str, Any],
) -> None:
    _, bucket = files_bucket(template_json)
    assert_encrypted_and_posted_to_by_the_site_only(template_json, bucket)  # private: test_site.py, every bucket
    # Nothing expires, and a deleted file leaves no version behind.
    assert "LifecycleConfiguration" not in bucket["Properties"]
    assert bucket["Properties"].get("VersioningConfiguration", {}).get("Status") != "Enabled"
    # User data: kept when the stack is destroyed, as the table is.
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_bucket_refuses_plain_http(template: Template, template_json: dict[str, Any]) -> None:
    assert_refuses_plain_http(template, files_bucket(template_json)[0])


def test_an_original_invokes_the_file_worker_and_what_it_writes_does_not(template_json: dict[str, Any]) -> None:
    logical_id, _ = files_bucket(template_json)
    worker = parley_functions(template_json)["file_worker"]
    configuration = lambda_notification(template_json, logical_id)
    rules = {rule["Name"]: rule["Value"] for rule in configuration["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "files/", "suffix": "/original"}
    assert references(configuration["LambdaFunctionArn"]) == {worker.logical_id}
    # S3 may invoke it for this bucket only.
    (permission,) = [
        body["Properties"]
        for body in resources(template_json, "AWS::Lambda::Permission").values()
        if body["Properties"]["Principal"] == "s3.amazonaws.com"
        and references(body["Properties"]["FunctionName"]) == {worker.logical_id}
    ]
    assert references(permission["SourceArn"]) == {logical_id}


def test_each_function_may_touch_only_what_it_needs_of_the_bucket(template_json: dict[str, Any]) -> None:
    bucket, _ = files_bucket(template_json)
    arn = "${" + bucket + ".Arn}"
    app = bucket_statements(template_json, "http_api", bucket)
    assert granted(app) == {
        "files/*": {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
        arn: {"s3:ListBucket"},
    }
    # The worker reads originals and writes what it makes of them; it deletes a file's blobs when the file was
    # deleted while it was processed.
    worker = bucket_statements(template_json, "file_worker", bucket)
    assert granted(worker) == {
        "files/*/original": {"s3:GetObject"},
        "files/*/text.json": {"s3:PutObject"},
        "files/*/image": {"s3:PutObject"},
        "files/*": {"s3:DeleteObject"},
        arn: {"s3:ListBucket"},
    }
    # Listing, to delete a file's or a user's blobs by prefix, only under files/.
    for statements in (app, worker):
        (listing,) = [s for s in statements if "s3:ListBucket" in as_list(s["Action"])]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": ["files/*"]}}
    # A chat turn reads a document's text and an image, never an original.
    for name in READERS:
        assert granted(bucket_statements(template_json, name, bucket)) == {
            "files/*/text.json": {"s3:GetObject"},
            "files/*/image": {"s3:GetObject"},
        }, name
    for name in parley_functions(template_json):
        if name not in ("http_api", "file_worker", *READERS):
            assert bucket_statements(template_json, name, bucket) == [], name


def test_nobody_lists_a_bucket_without_naming_a_prefix(template_json: dict[str, Any]) -> None:
    for holder, statement in all_policy_statements(template_json):
        if statement["Effect"] == "Allow" and "s3:ListBucket" in as_list(statement["Action"]):
            resources_named = {flatten(resource) for resource in as_list(statement["Resource"])}
            if any(BUCKET_NAME in r or "FilesBucket" in r for r in resources_named):
                assert "s3:prefix" in str(statement.get("Condition")), holder


def test_the_functions_that_use_it_are_told_its_name(template_json: dict[str, Any]) -> None:
    bucket, _ = files_bucket(template_json)
    told = set()
    for name, function in parley_functions(template_json).items():
        variables = function.properties["Environment"]["Variables"]
        if "PARLEY_FILES_BUCKET" in variables:
            assert references(variables["PARLEY_FILES_BUCKET"]) == {bucket}
            told.add(name)
    assert told == {"http_api", "file_worker", *READERS}


def test_the_deployment_names_the_bucket(template_json: dict[str, Any]) -> None:
    # Kept when the stack goes: the operator is told its name, to empty and delete it when they mean to.
    bucket, _ = files_bucket(template_json)
    assert references(template_json["Outputs"]["FilesBucketName"]["Value"]) == {bucket}
