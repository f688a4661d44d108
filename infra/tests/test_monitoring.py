"""Alarms and the dashboard: every function's errors and throttles, dropped answers, table throttles and the HTTP
API's 5xx, each notifying the alarm topic, none alarming on the silence of an idle deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from parley_stack import DeploySettings, ParleyStack, SettingsError
from tests.cfn import only, parley_functions, references, resources


def alarms(template: dict[str, Any]) -> dict[str, Any]:
    return resources(template, "AWS::CloudWatch::Alarm")


def test_every_function_has_an_errors_and_a_throttles_alarm(template_json: dict[str, Any]) -> None:
    functions = {function.logical_id for function in parley_functions(template_json).values()}
    watched: dict[str, set[str]] = {}
    for alarm in alarms(template_json).values():
        props = alarm["Properties"]
        if props.get("Namespace") == "AWS/Lambda" and props["MetricName"] in ("Errors", "Throttles"):
            [dimension] = props["Dimensions"]
            watched.setdefault(props["MetricName"], set()).update(references(dimension["Value"]))
    assert watched == {"Errors": functions, "Throttles": functions}


def test_dropped_answers_failed_files_table_throttles_and_server_errors_alarm(template_json: dict[str, Any]) -> None:
    metrics = {
        (a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms(template_json).values()
    }
    assert ("AWS/Lambda", "AsyncEventsDropped") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics  # uploads the file worker died on
    assert ("AWS/ApiGateway", "5xx") in metrics
    assert ("AWS/DynamoDB", "ReadThrottleEvents") in metrics and ("AWS/DynamoDB", "WriteThrottleEvents") in metrics


def test_alarms_notify_the_topic_and_stay_quiet_at_idle(template_json: dict[str, Any]) -> None:
    topics = resources(template_json, "AWS::SNS::Topic")
    [alarm_topic] = [name for name, body in topics.items() if body["Properties"].get("DisplayName") == "Parley alarms"]
    for name, alarm in alarms(template_json).items():
        props = alarm["Properties"]
        assert props["TreatMissingData"] == "notBreaching", name
        assert props["Threshold"] == 1 and props["EvaluationPeriods"] == 1, name
        assert references(props["AlarmActions"]) == {alarm_topic}, name
    # No email unless asked for one.
    assert not [
        s for s in resources(template_json, "AWS::SNS::Subscription").values() if s["Properties"]["Protocol"] == "email"
    ]


def test_the_dashboard_shows_the_alarms_and_each_piece(template_json: dict[str, Any]) -> None:
    _, dashboard = only(template_json, "AWS::CloudWatch::Dashboard")
    body = str(dashboard["Properties"]["DashboardBody"])
    for title in ("Alarms", "Invocations", "Errors", "HTTP API", "WebSocket", "Worker", "File worker", "Table"):
        assert f'"title":"{title}' in body, title


def test_an_alarm_email_subscribes_to_the_topic(placeholder_assets: tuple[Path, Path]) -> None:
    code, web = placeholder_assets
    values = {"lambdaAsset": str(code), "webDist": str(web), "alarmEmail": "ops@example.com"}
    settings = DeploySettings.from_context(values.get)
    stack = ParleyStack(
        cdk.App(), "Parley", settings=settings, env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


def test_an_alarm_email_must_be_an_address(placeholder_assets: tuple[Path, Path]) -> None:
    code, web = placeholder_assets
    values = {"lambdaAsset": str(code), "webDist": str(web), "alarmEmail": "ops at example"}
    with pytest.raises(SettingsError, match="email address"):
        DeploySettings.from_context(values.get)


def test_monitoring_can_be_left_out(placeholder_assets: tuple[Path, Path]) -> None:
    code, web = placeholder_assets
    values = {"lambdaAsset": str(code), "webDist": str(web), "monitoring": "off"}
    settings = DeploySettings.from_context(values.get)
    stack = ParleyStack(
        cdk.App(), "Parley", settings=settings, env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::CloudWatch::Dashboard", 0)
