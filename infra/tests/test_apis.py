from __future__ import annotations

from typing import Any

from tests.cfn import (
    http_api,
    integration_function,
    only,
    parley_functions,
    references,
    resources,
    routes,
    websocket_api,
)

PUBLIC_ROUTES = {
    "POST /api/login",
    "POST /api/setup",
    "POST /api/signup",
    "GET /api/health",
    "GET /openapi.json",
    "GET /api/public/shares/{token}",
}
PROTECTED_ROUTE = "ANY /api/{proxy+}"


def test_http_api_routes_and_which_pass_the_authorizer(template_json: dict[str, Any]) -> None:
    (api,) = http_api(template_json)
    found = routes(template_json, api)
    assert set(found) == PUBLIC_ROUTES | {PROTECTED_ROUTE}
    for key in PUBLIC_ROUTES:
        assert found[key]["AuthorizationType"] == "NONE", key
        assert "AuthorizerId" not in found[key], key
    authorizer, _ = only(template_json, "AWS::ApiGatewayV2::Authorizer")
    assert found[PROTECTED_ROUTE]["AuthorizationType"] == "CUSTOM"
    assert references(found[PROTECTED_ROUTE]["AuthorizerId"]) == {authorizer}


def test_every_http_route_reaches_the_app_with_payload_2(template_json: dict[str, Any]) -> None:
    (api,) = http_api(template_json)
    app = parley_functions(template_json)["http_api"].logical_id
    for key, route in routes(template_json, api).items():
        assert integration_function(template_json, route) == app, key
        (integration,) = references(route["Target"])
        properties = template_json["Resources"][integration]["Properties"]
        assert properties["IntegrationType"] == "AWS_PROXY"
        assert properties["PayloadFormatVersion"] == "2.0"


def test_the_authorizer_is_a_simple_request_authorizer_run_on_every_request(template_json: dict[str, Any]) -> None:
    (api,) = http_api(template_json)
    _, authorizer = only(template_json, "AWS::ApiGatewayV2::Authorizer")
    properties = authorizer["Properties"]
    assert references(properties["ApiId"]) == {api}
    assert properties["AuthorizerType"] == "REQUEST"
    assert properties["AuthorizerPayloadFormatVersion"] == "2.0"
    assert properties["EnableSimpleResponses"] is True
    # The token is in a header or a cookie: no identity source can require either, so none, and no cache.
    assert not properties.get("IdentitySource")
    assert properties["AuthorizerResultTtlInSeconds"] == 0
    assert parley_functions(template_json)["authorizer"].logical_id in references(properties["AuthorizerUri"])


def test_the_http_api_serves_paths_as_they_are(template_json: dict[str, Any]) -> None:
    # The $default stage has no path prefix, so CloudFront's /api/* reaches the routes unchanged.
    (api,) = http_api(template_json)
    stages = [
        body["Properties"]
        for body in template_json["Resources"].values()
        if body["Type"] == "AWS::ApiGatewayV2::Stage" and references(body["Properties"]["ApiId"]) == {api}
    ]
    assert [(stage["StageName"], stage["AutoDeploy"]) for stage in stages] == [("$default", True)]


def test_both_stages_refuse_floods_at_the_edge(template_json: dict[str, Any]) -> None:
    # Each route takes 50 requests (or WebSocket messages and connections) a second, bursts of 100, from everyone
    # together; beyond that API Gateway answers 429 without invoking a function (CloudFront adds the headers).
    stages = resources(template_json, "AWS::ApiGatewayV2::Stage")
    assert {references(stage["Properties"]["ApiId"]).pop() for stage in stages.values()} == {
        *http_api(template_json),
        *websocket_api(template_json),
    }
    for stage in stages.values():
        assert stage["Properties"]["DefaultRouteSettings"] == {"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100}


def test_websocket_routes_and_their_handlers(template_json: dict[str, Any]) -> None:
    (api,) = websocket_api(template_json)
    functions = {function.logical_id: name for name, function in parley_functions(template_json).items()}
    found = routes(template_json, api)
    assert {key: functions[integration_function(template_json, route)] for key, route in found.items()} == {
        "$connect": "ws_connect",
        "$disconnect": "ws_disconnect",
        "$default": "ws_default",
        "sendprompt": "ws_sendprompt",
        "stop": "ws_stop",
    }
    # $connect has no API Gateway authorizer: the handler redeems the ticket and answers 403 itself.
    assert all(route["AuthorizationType"] == "NONE" for route in found.values())


def test_websocket_route_selection_and_stage(template_json: dict[str, Any]) -> None:
    (api,) = websocket_api(template_json)
    assert websocket_api(template_json)[api]["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    stages = [
        body["Properties"]
        for body in template_json["Resources"].values()
        if body["Type"] == "AWS::ApiGatewayV2::Stage" and references(body["Properties"]["ApiId"]) == {api}
    ]
    assert [(stage["StageName"], stage["AutoDeploy"]) for stage in stages] == [("prod", True)]


def test_api_gateway_may_invoke_each_function_from_its_own_api_only(template_json: dict[str, Any]) -> None:
    (http,) = http_api(template_json)
    (websocket,) = websocket_api(template_json)
    functions = parley_functions(template_json)
    # The worker is invoked by SNS, the session-end function by the table's stream, the /v1 function through its
    # function URL, the import worker by the history bucket, the file worker by the files bucket: none by API Gateway.
    behind_apis = [
        name
        for name in functions
        if name not in ("worker", "session_end", "openai_api", "import_worker", "file_worker")
    ]
    expected = {name: (websocket if name.startswith("ws_") else http) for name in behind_apis}
    granted: dict[str, set[str]] = {}
    for body in template_json["Resources"].values():
        properties = body.get("Properties", {})
        if body["Type"] == "AWS::Lambda::Permission" and properties["Principal"] == "apigateway.amazonaws.com":
            (function,) = references(properties["FunctionName"])
            granted.setdefault(function, set()).update(references(properties["SourceArn"]) & {http, websocket})
    assert {name: granted.get(function.logical_id) for name, function in functions.items()} == {
        name: ({expected[name]} if name in expected else None) for name in functions
    }
