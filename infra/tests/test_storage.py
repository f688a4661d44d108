from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from tests.cfn import only


def test_one_on_demand_table_with_its_keys_index_and_ttl(template: Template) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_equals(
                [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                    {"AttributeName": "gsi1pk", "AttributeType": "S"},
                    {"AttributeName": "gsi1sk", "AttributeType": "S"},
                ]
            ),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            # The session-end function compares a user's old and new images.
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        },
    )


def test_the_table_has_no_provisioned_capacity(template_json: dict[str, Any]) -> None:
    _, table = only(template_json, "AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert "ProvisionedThroughput" not in properties
    assert all("ProvisionedThroughput" not in index for index in properties["GlobalSecondaryIndexes"])


def test_the_table_outlives_the_stack(template: Template) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
        },
    )


def test_the_table_can_be_restored_to_any_second_of_the_last_35_days(template_json: dict[str, Any]) -> None:
    _, table = only(template_json, "AWS::DynamoDB::Table")
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_jwt_secret_is_generated_by_secrets_manager(template: Template) -> None:
    template.resource_count_is("AWS::SecretsManager::Secret", 2)  # and CloudFront's origin secret (test_site.py)
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}},
    )
