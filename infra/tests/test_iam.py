from __future__ import annotations

import re
from typing import Any

import pytest

from tests.cfn import all_policy_statements, as_list, flatten, parley_functions, resources, websocket_api

DATA_SERVICES = ("dynamodb", "sns", "s3", "secretsmanager", "execute-api")
TABLE_WRITES = re.compile(r"dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems|PartiQL\w+)")
READ_WRITE = {"ws_connect", "ws_disconnect", "ws_sendprompt", "ws_stop", "ws_default", "worker", "http_api"}
STREAM_READS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")


def test_no_policy_allows_every_action_of_a_data_service(template_json: dict[str, Any]) -> None:
    allowed, denied = [], []
    for holder, statement in all_policy_statements(template_json):
        for action in as_list(statement.get("Action", [])):
            service = action.split(":", 1)[0]
            if action == "*" or (service in DATA_SERVICES and action.endswith(":*")):
                (allowed if statement["Effect"] == "Allow" else denied).append((holder, statement))
    assert allowed == []
    # A wildcard only ever takes away: the bucket and topic refuse every request not made over TLS.
    for holder, statement in denied:
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, holder
    assert {template_json["Resources"][holder]["Type"] for holder, _ in denied} <= {
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
    }


def test_no_parley_function_has_a_wildcard_action(template_json: dict[str, Any]) -> None:
    for function in parley_functions(template_json).values():
        assert not [action for action in function.actions() if action.endswith("*")], function.name


def test_only_the_authorizer_and_session_end_read_the_table_without_writing(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    table_arn = "${" + table + ".Arn}"
    for name, function in parley_functions(template_json).items():
        assert table_arn in function.resources_for("dynamodb:GetItem"), name
        assert table_arn + "/index/*" in function.resources_for("dynamodb:Query"), name
        writes = {action for action in function.actions() if TABLE_WRITES.fullmatch(action)}
        if name in READ_WRITE:
            assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= writes, name
        elif name == "session_end":
            assert writes == {"dynamodb:DeleteItem"}
        else:
            assert name == "authorizer"
            assert writes == set()


def test_the_session_end_function_deletes_connection_records_and_nothing_else(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    session_end = parley_functions(template_json)["session_end"]
    (statement,) = [s for s in session_end.statements if "dynamodb:DeleteItem" in as_list(s["Action"])]
    assert as_list(statement["Action"]) == ["dynamodb:DeleteItem"]
    assert flatten(statement["Resource"]) == "${" + table + ".Arn}"
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CONN#*"]}}


def test_only_the_session_end_function_reads_the_tables_stream(template_json: dict[str, Any]) -> None:
    (table,) = resources(template_json, "AWS::DynamoDB::Table")
    stream = "${" + table + ".StreamArn}"
    readers = set()
    for name, function in parley_functions(template_json).items():
        if any(stream in function.resources_for(action) for action in STREAM_READS):
            assert {*STREAM_READS, "dynamodb:ListStreams"} <= function.actions(), name
            readers.add(name)
        else:
            assert "dynamodb:ListStreams" not in function.actions(), name
    assert readers == {"session_end"}


def test_only_sendprompt_publishes_prompts(template_json: dict[str, Any]) -> None:
    (topic,) = resources(template_json, "AWS::SNS::Topic")
    publishers = {
        name for name, function in parley_functions(template_json).items() if "sns:Publish" in function.actions()
    }
    assert publishers == {"ws_sendprompt"}
    assert parley_functions(template_json)["ws_sendprompt"].resources_for("sns:Publish") == ["${" + topic + "}"]
    # Nothing else in the stack may publish either.
    others = [
        holder
        for holder, statement in all_policy_statements(template_json)
        if statement["Effect"] == "Allow" and "sns:Publish" in as_list(statement["Action"])
    ]
    assert len(others) == 1


def test_manage_connections_is_scoped_to_the_websocket_stage(template_json: dict[str, Any]) -> None:
    (api,) = websocket_api(template_json)
    prefix = f"arn:aws:execute-api:us-east-1:123456789012:${{{api}}}/prod/"
    managers = {}
    for name, function in parley_functions(template_json).items():
        if "execute-api:ManageConnections" in function.actions():
            managers[name] = sorted(function.resources_for("execute-api:ManageConnections"))
    assert set(managers) == {"ws_sendprompt", "ws_stop", "ws_default", "worker", "session_end"}
    for name, arns in managers.items():
        # The session-end function only closes connections.
        methods = ("DELETE",) if name == "session_end" else ("DELETE", "GET", "POST")
        assert arns == [prefix + f"{method}/@connections/*" for method in methods], name
    # No other execute-api action: Invoke is API Gateway's business, not the functions'.
    for function in parley_functions(template_json).values():
        assert {a for a in function.actions() if a.startswith("execute-api:")} <= {"execute-api:ManageConnections"}


@pytest.mark.parametrize("name", ["http_api", "worker"])
def test_model_runners_invoke_bedrock_models_of_this_region(template_json: dict[str, Any], name: str) -> None:
    function = parley_functions(template_json)[name]
    expected = [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/*",
        "arn:aws:bedrock:us-east-1::foundation-model/*",
    ]
    for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"):
        assert sorted(function.resources_for(action)) == expected


def test_only_model_runners_reach_bedrock(template_json: dict[str, Any]) -> None:
    users = {
        name
        for name, function in parley_functions(template_json).items()
        if any(action.startswith("bedrock:") for action in function.actions())
    }
    assert users == {"http_api", "worker"}


def test_each_function_has_its_own_role(template_json: dict[str, Any]) -> None:
    roles = [function.role for function in parley_functions(template_json).values()]
    assert len(set(roles)) == len(roles)
