"""What the tests of the buckets the browser uploads to share (test_history_bucket.py, test_files_bucket.py): finding
one by its name, and the rules both keep (encrypted, TLS only, posted to by the site's pages only). That every bucket
is private is test_site.py's."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from tests.cfn import flatten, references, resources


def upload_bucket(template_json: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    (logical_id,) = [
        logical_id
        for logical_id, resource in resources(template_json, "AWS::S3::Bucket").items()
        if flatten(resource["Properties"].get("BucketName", "")) == name
    ]
    return logical_id, template_json["Resources"][logical_id]


def assert_encrypted_and_posted_to_by_the_site_only(template_json: dict[str, Any], bucket: dict[str, Any]) -> None:
    properties = bucket["Properties"]
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    (distribution,) = resources(template_json, "AWS::CloudFront::Distribution")
    (rule,) = properties["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    assert [flatten(origin) for origin in rule["AllowedOrigins"]] == ["https://${" + distribution + ".DomainName}"]


def assert_refuses_plain_http(template: Template, logical_id: str) -> None:
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": logical_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            },
        },
    )


def lambda_notification(template_json: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """The bucket's one notification: which events, filtered how, invoke which function."""
    (notifications,) = [
        body
        for body in resources(template_json, "Custom::S3BucketNotifications").values()
        if references(body["Properties"]["BucketName"]) == {logical_id}
    ]
    (configuration,) = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert configuration["Events"] == ["s3:ObjectCreated:*"]
    return dict(configuration)
