"""The streaming path: a WebSocket API whose `sendprompt` route publishes to an SNS topic, and a worker that
answers through the API's @connections endpoint, so an answer may run longer than API Gateway's 29 s limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration
from constructs import Construct

STAGE_NAME = "prod"
ROUTE_SELECTION_EXPRESSION = "$request.body.action"
# The methods of the @connections management API: post to, look at and close a connection.
CONNECTION_METHODS = ("POST", "GET", "DELETE")
CLOSE_METHOD = "DELETE"
SNS_MANAGED_KEY = "alias/aws/sns"


class WebSocket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, throttle: apigwv2.ThrottleSettings) -> None:
        super().__init__(scope, construct_id)
        # No API Gateway authorizer on $connect: the connect handler redeems the single-use ticket itself.
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=f"{Stack.of(self).stack_name}-ws",
            route_selection_expression=ROUTE_SELECTION_EXPRESSION,
        )
        self.stage = apigwv2.WebSocketStage(
            self, "Stage", web_socket_api=self.api, stage_name=STAGE_NAME, auto_deploy=True, throttle=throttle
        )
        # Encrypted at rest with the AWS managed key for SNS: no monthly charge (a customer managed key is $1 a month),
        # and its key policy lets any principal of the account use it through SNS, so there is no key policy to keep
        # in step with the publisher (an AWS service publishing, e.g. an alarm, would need a customer managed key).
        # grant_publish also grants the publisher the key, through this alias only.
        self.prompts = sns.Topic(
            self,
            "Prompts",
            display_name="Parley prompts to answer",
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "PromptsKey", SNS_MANAGED_KEY),
        )

    @property
    def url(self) -> str:
        """wss://{api-id}.execute-api.{region}.amazonaws.com/{stage}: what browsers connect to."""
        return self.stage.url

    @property
    def callback_url(self) -> str:
        """https://{api-id}.execute-api.{region}.amazonaws.com/{stage}: where PostToConnection is sent."""
        return self.stage.callback_url

    def add_routes(self, handlers: Mapping[str, lambda_.IFunction]) -> None:
        """One Lambda integration per route key ($connect, $disconnect, $default, or an `action` value)."""
        for route_key, handler in handlers.items():
            integration_id = "Route" + "".join(part.capitalize() for part in route_key.strip("$").split("_"))
            self.api.add_route(route_key, integration=WebSocketLambdaIntegration(integration_id, handler))

    def subscribe(self, worker: lambda_.IFunction) -> None:
        self.prompts.add_subscription(subscriptions.LambdaSubscription(worker))

    def grant_manage_connections(self, grantee: iam.IGrantable, methods: Sequence[str] = CONNECTION_METHODS) -> None:
        """execute-api:ManageConnections on this API's stage only, for these @connections methods."""
        stack = Stack.of(self)
        resources = [
            stack.format_arn(
                service="execute-api",
                resource=self.api.api_id,
                resource_name=f"{STAGE_NAME}/{method}/@connections/*",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for method in methods
        ]
        iam.Grant.add_to_principal(grantee=grantee, actions=["execute-api:ManageConnections"], resource_arns=resources)
