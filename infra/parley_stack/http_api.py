"""The JSON API: an HTTP API whose routes all reach the FastAPI function; all but the public ones pass the
authorizer."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_authorizers import HttpLambdaAuthorizer, HttpLambdaResponseType
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

# (method, path) reachable without a session token. A shared conversation is read by anyone holding its link; the
# route is more specific than {proxy+}, so API Gateway picks it over the authorized one.
PUBLIC_ROUTES = (
    (apigwv2.HttpMethod.POST, "/api/login"),
    (apigwv2.HttpMethod.POST, "/api/setup"),  # the first account, for the setup code's holder
    (apigwv2.HttpMethod.POST, "/api/signup"),  # refused unless PARLEY_SIGNUP lets strangers in
    (apigwv2.HttpMethod.GET, "/api/health"),
    (apigwv2.HttpMethod.GET, "/openapi.json"),
    (apigwv2.HttpMethod.GET, "/api/public/shares/{token}"),
)
PROTECTED_PATH = "/api/{proxy+}"
# The token comes in the Authorization header (scripts) or the web app's HttpOnly cookie. API Gateway requires every
# identity source to be present, and caches on them: so none, and no cache; the authorizer runs on each request.
IDENTITY_SOURCE: list[str] = []
AUTHORIZER_CACHE = Duration.seconds(0)


class HttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        app_function: lambda_.IFunction,
        authorizer_function: lambda_.IFunction,
        throttle: apigwv2.ThrottleSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        # The $default stage serves paths as they are (no stage prefix), so CloudFront can pass /api/* through.
        self.api = apigwv2.HttpApi(self, "Api", api_name=f"{Stack.of(self).stack_name}-http")
        # Its throttling, on the stage the API creates (HttpApi takes no throttle): a stage of our own would replace
        # it, and a deployed stack cannot create a second $default stage before deleting the first.
        stage = self.api.default_stage
        assert stage is not None
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.default_route_settings = apigwv2.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=throttle.rate_limit, throttling_burst_limit=throttle.burst_limit
        )
        app = HttpLambdaIntegration(
            "App", app_function, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
        )
        # Simple responses ({"isAuthorized": bool, "context": {...}}), payload 2.0.
        authorizer = HttpLambdaAuthorizer(
            "Authorizer",
            authorizer_function,
            response_types=[HttpLambdaResponseType.SIMPLE],
            identity_source=IDENTITY_SOURCE,
            results_cache_ttl=AUTHORIZER_CACHE,
        )
        for method, path in PUBLIC_ROUTES:
            self.api.add_routes(path=path, methods=[method], integration=app)
        self.api.add_routes(
            path=PROTECTED_PATH, methods=[apigwv2.HttpMethod.ANY], integration=app, authorizer=authorizer
        )

    @property
    def url(self) -> str:
        return self.api.api_endpoint

    def domain_name(self) -> str:
        """{api-id}.execute-api.{region}.{suffix}: the CloudFront origin."""
        stack = Stack.of(self)
        return f"{self.api.api_id}.execute-api.{stack.region}.{stack.url_suffix}"
