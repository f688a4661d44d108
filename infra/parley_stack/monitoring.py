"""Alarms and a dashboard: what an operator needs to see that Parley is failing, and nothing that runs at idle.

Alarms (each one CloudWatch alarm on one metric, see the README for what they cost): every function's errors and
throttles, worker answers Lambda dropped before they ran, uploads the file worker died on, the table's throttled
reads and writes, and the HTTP API's 5xx answers. They notify an SNS topic, with an email subscription when
`alarmEmail` is given. The dashboard shows requests, latency, errors and concurrency of each piece.

The alarm topic is not encrypted with SNS's AWS-managed key (as the prompts topic is): CloudWatch cannot publish
to a topic under that key, and an alarm's notification carries no user data.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        worker: lambda_.Function,
        file_worker: lambda_.Function,
        file_failures: sqs.IQueue,
        table: dynamodb.Table,
        http_api: apigwv2.HttpApi,
        websocket_api: apigwv2.WebSocketApi,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name="Parley alarms")
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        notify = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(name: str, metric: cloudwatch.IMetric, description: str) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                # No data is the normal state of a deployment nobody uses: it must not alarm, nor leave the
                # alarm in INSUFFICIENT_DATA for ever.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(notify)
            self.alarms.append(created)

        for name, function in functions.items():
            label = _title(name)
            alarm(
                f"{label}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function failed (uncaught errors or timeouts); see its log group.",
            )
            alarm(
                f"{label}Throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                f"The {name} function was throttled: its concurrency, or the account's, is used up.",
            )
        alarm(
            "WorkerAnswersDropped",
            worker.metric("AsyncEventsDropped", period=PERIOD, statistic="Sum"),
            "Answers were dropped before the worker ran them (throttled for 15 minutes): users saw no answer.",
        )
        failed_files = file_failures.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        alarm(
            "FileWorkerFailures",
            failed_files,
            "The file worker died on an upload (out of memory, or it never ran): the file stays 'processing' until "
            "its owner deletes it; the queue holds the event.",
        )
        for kind in ("Read", "Write"):
            alarm(
                f"Table{kind}Throttles",
                table.metric(f"{kind}ThrottleEvents", period=PERIOD, statistic="Sum"),
                f"The table throttled {kind.lower()}s.",
            )
        alarm(
            "HttpApiServerErrors",
            http_api.metric_server_error(period=PERIOD, statistic="Sum"),
            "The HTTP API answered 5xx.",
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        by_function = list(functions.items())
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=4),
        )
        self.dashboard.add_widgets(
            _graph("Invocations", [f.metric_invocations(period=PERIOD, label=n) for n, f in by_function]),
            _graph("Errors", [f.metric_errors(period=PERIOD, label=n) for n, f in by_function]),
            _graph(
                "Duration p95 (ms)",
                [f.metric_duration(period=PERIOD, statistic="p95", label=n) for n, f in by_function],
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                "HTTP API",
                [
                    http_api.metric_count(period=PERIOD, label="requests"),
                    http_api.metric_client_error(period=PERIOD, label="4xx"),
                    http_api.metric_server_error(period=PERIOD, label="5xx"),
                ],
            ),
            _graph("HTTP API latency p95 (ms)", [http_api.metric_latency(period=PERIOD, statistic="p95")]),
            _graph(
                "WebSocket",
                [
                    websocket_api.metric("ConnectCount", period=PERIOD, statistic="Sum", label="connects"),
                    websocket_api.metric("MessageCount", period=PERIOD, statistic="Sum", label="messages"),
                    websocket_api.metric("ExecutionError", period=PERIOD, statistic="Sum", label="errors"),
                ],
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                "Worker",
                [
                    worker.metric("ConcurrentExecutions", period=PERIOD, statistic="Maximum", label="answers at once"),
                    worker.metric("AsyncEventsDropped", period=PERIOD, statistic="Sum", label="dropped"),
                ],
            ),
            _graph(
                "File worker",
                [
                    file_worker.metric_invocations(period=PERIOD, label="files processed"),
                    file_worker.metric_errors(period=PERIOD, label="errors"),
                    file_worker.metric("ConcurrentExecutions", period=PERIOD, statistic="Maximum", label="at once"),
                    failed_files.with_(label="died on (queued)"),
                ],
            ),
            _graph(
                "Table",
                [
                    table.metric_consumed_read_capacity_units(period=PERIOD, label="reads"),
                    table.metric_consumed_write_capacity_units(period=PERIOD, label="writes"),
                ],
            ),
            _graph("Table throttles", [table.metric_throttled_requests_for_operations(period=PERIOD, statistic="Sum")]),
        )


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6)


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
