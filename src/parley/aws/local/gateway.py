"""API Gateway, locally: the HTTP API (routes, Lambda authorizer with its cache), the WebSocket API
(routing on ``action``), the ``@connections`` management API, and SNS delivery to the worker.

Two apps, as a deployment has two ways in: ``app`` is the site, CloudFront in front of the HTTP API (it adds
the viewer's address and its origin secret, and API Gateway sees an edge server as the peer), with the
WebSocket API beside it; ``api_app`` is the HTTP API's own URL, which a client can call without CloudFront.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from parley.aws.local.containers import FunctionPool
from parley.aws.local.events import CloudFront, authorizer_event, http_event, http_response, sns_event, ws_event
from parley.server.browser_headers import page_headers
from parley.server.middleware.body_limit import BodyLimitMiddleware
from parley.server.middleware.security_headers import SecurityHeadersMiddleware
from parley.server.middleware.trusted_host import LOOPBACK_NAMES, TrustedHostMiddleware
from parley.server.routes.web import WebApp
from parley.server.ws_text import receive_text

log = logging.getLogger(__name__)

# The deployed HTTP API's routes (infra/parley_stack/http_api.py): these are public, every other /api path needs the
# authorizer.
PUBLIC_ROUTES = {
    (method, path): f"{method} {path}"
    for method, path in (
        ("POST", "/api/login"),
        ("POST", "/api/setup"),
        ("POST", "/api/signup"),
        ("GET", "/api/health"),
    )
}
# A shared conversation, read by anyone holding its link: one path segment after the prefix, as API Gateway
# matches ``{token}`` (a more specific route than the authorized ``{proxy+}``).
PUBLIC_SHARE_PREFIX = "/api/public/shares/"
PUBLIC_SHARE_ROUTE = "GET /api/public/shares/{token}"
PROXY_ROUTE = "ANY /api/{proxy+}"
WS_ROUTES = ("sendprompt", "stop")
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024  # an HTTP API refuses a bigger payload (413) before any function runs
CLOSE_GOING_AWAY = 1001


@dataclass
class Functions:
    http_api: FunctionPool
    authorizer: FunctionPool
    connect: FunctionPool
    disconnect: FunctionPool
    routes: dict[str, FunctionPool]  # sendprompt, stop, $default
    worker: FunctionPool

    def all(self) -> list[FunctionPool]:
        return [self.http_api, self.authorizer, self.connect, self.disconnect, *self.routes.values(), self.worker]


@dataclass
class Gateway:
    functions: Functions
    topic_arn: str
    app_name: str  # for config.json, which CloudFront serves as the deployment wrote it
    cloudfront: CloudFront
    web_dir: Path | None = None
    # CloudFront and API Gateway answer only to their own names; here, the names `parley serve` would trust.
    trusted_hosts: tuple[str, ...] = LOOPBACK_NAMES
    # The OpenAI-compatible function's URL (``function_url.py``) and CloudFront's client to it, once started.
    function_url: str | None = None
    origin_client: httpx.AsyncClient | None = None
    # The origin of the history bucket the browser posts import files to (moto's, on loopback): pages may reach it.
    upload_origin: str = ""
    connections: dict[str, WebSocket] = field(default_factory=dict)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def app(self) -> Starlette:
        async def not_found(scope: Any, receive: Any, send: Any) -> None:
            await JSONResponse({"message": "Not Found"}, status_code=404)(scope, receive, send)

        starlette = Starlette(
            routes=[
                Route("/config.json", self.config_json),
                Route("/openapi.json", self.http_api, methods=["GET"]),
                Route("/api/{path:path}", self.http_api, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
                Route("/v1/{path:path}", self.openai_api, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
                WebSocketRoute("/ws", self.websocket),
                Route("/@connections/{connection_id}", self.management, methods=["POST", "GET", "DELETE"]),
                Route("/%40connections/{connection_id}", self.management, methods=["POST", "GET", "DELETE"]),
                Route("/_sns/worker", self.sns_delivery, methods=["POST"]),
            ],
            # On AWS, CloudFront's response headers policy gives the pages these (the API's answers carry
            # them from the function already).
            middleware=[
                Middleware(SecurityHeadersMiddleware),
                Middleware(TrustedHostMiddleware, hosts=self.trusted_hosts),
                Middleware(BodyLimitMiddleware, max_bytes=API_GATEWAY_MAX_BODY),
            ],
        )
        starlette.router.default = WebApp(self.web_dir, fallback=not_found, headers=self.page_headers)
        return starlette

    def api_app(self) -> Starlette:
        """The HTTP API reached at its own URL, with no CloudFront in front."""
        api_routes = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Starlette(
            routes=[
                Route("/openapi.json", self.http_api_direct, methods=["GET"]),
                Route("/api/{path:path}", self.http_api_direct, methods=api_routes),
            ],
            middleware=[
                Middleware(TrustedHostMiddleware, hosts=self.trusted_hosts),
                Middleware(BodyLimitMiddleware, max_bytes=API_GATEWAY_MAX_BODY),
            ],
        )

    @property
    def page_headers(self) -> dict[str, str]:
        return page_headers(connect_to=self.upload_origin)

    # HTTP API

    async def config_json(self, request: Request) -> Response:
        response = JSONResponse({"api_base_url": "", "ws_url": "", "app_name": self.app_name})
        response.headers.update(self.page_headers)
        return response

    async def http_api(self, request: Request) -> Response:
        return await self._http_api(request, self.cloudfront)

    async def http_api_direct(self, request: Request) -> Response:
        return await self._http_api(request, None)

    async def _http_api(self, request: Request, cloudfront: CloudFront | None) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:  # the client went, or was cut off by the read deadline: nobody to answer
            return Response(status_code=400)
        route_key = _public_route(request.method, request.url.path)
        context = None
        if route_key is None:
            route_key = PROXY_ROUTE
            context = await self._authorize(request, cloudfront)
            if context is None:
                return JSONResponse({"message": "Unauthorized"}, status_code=401)
        result = await self.functions.http_api.invoke(http_event(request, body, route_key, context, cloudfront))
        return http_response(result)

    async def _authorize(self, request: Request, cloudfront: CloudFront | None) -> dict[str, Any] | None:
        # As deployed: no identity source and no cache (the token is in a header or a cookie), so every
        # protected request is the authorizer's to judge.
        answer = await self.functions.authorizer.invoke(authorizer_event(request, PROXY_ROUTE, cloudfront))
        return answer.get("context", {}) if answer.get("isAuthorized") else None

    # CloudFront's /v1/* behaviour: the OpenAI-compatible function's URL, streamed through

    async def openai_api(self, request: Request) -> Response:
        if self.function_url is None or self.origin_client is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        try:
            body = await request.body()
        except ClientDisconnect:
            return Response(status_code=400)
        # Header values without surrounding whitespace (not part of a value in HTTP), the path as the viewer sent
        # it, percent-encoding and all.
        headers = {name: value.strip() for name, value in request.headers.items() if name.lower() not in _NOT_FORWARDED}
        headers.update(self.cloudfront.origin_headers(request))
        target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        url = f"{self.function_url}{target}" + (f"?{query}" if query else "")
        try:
            sent = self.origin_client.build_request(request.method, url, headers=headers, content=body)
        except (httpx.InvalidURL, httpx.LocalProtocolError):  # nothing a viewer could send on to the origin
            return JSONResponse({"message": "Bad Request"}, status_code=400)
        try:
            origin = await self.origin_client.send(sent, stream=True)
        except httpx.HTTPError as error:  # what CloudFront answers when it cannot reach or talk to an origin
            log.warning("the function URL could not be reached: %s", type(error).__name__)
            return JSONResponse({"message": "Bad Gateway"}, status_code=502)

        async def relay() -> Any:
            # A viewer that leaves cancels this; closing the origin's response then tells the function.
            try:
                async for piece in origin.aiter_raw():
                    yield piece
            finally:
                await origin.aclose()

        kept = {name: value for name, value in origin.headers.items() if name.lower() not in _NOT_RELAYED}
        return StreamingResponse(relay(), status_code=origin.status_code, headers=kept)

    # WebSocket API

    async def websocket(self, websocket: WebSocket) -> None:
        connection_id = uuid.uuid4().hex[:16] + "="
        domain = websocket.headers.get("host", "localhost")
        connect = ws_event(
            "CONNECT",
            "$connect",
            connection_id,
            domain,
            headers=dict(websocket.headers),
            queryStringParameters=dict(websocket.query_params) or None,
        )
        answer = await self.functions.connect.invoke(connect)
        status = int(answer.get("statusCode", 500))
        if status != 200:
            # As on AWS, $connect's status is the handshake's answer (403 for a bad ticket, 429 at the cap).
            await websocket.send_denial_response(Response(status_code=status))
            return
        await websocket.accept()
        self.connections[connection_id] = websocket
        try:
            while (body := await receive_text(websocket)) is not None:
                route = _route_of(body)
                event = ws_event("MESSAGE", route, connection_id, domain, body=body)
                self._spawn(self.functions.routes[route].invoke(event))
        except WebSocketDisconnect:
            pass
        finally:
            self.connections.pop(connection_id, None)
            await self.functions.disconnect.invoke(ws_event("DISCONNECT", "$disconnect", connection_id, domain))

    # The @connections management API that PostToConnection calls

    async def management(self, request: Request) -> Response:
        connection_id = unquote(request.path_params["connection_id"])
        websocket = self.connections.get(connection_id)
        if websocket is None:
            return JSONResponse({"message": "Gone"}, status_code=410, headers={"x-amzn-ErrorType": "GoneException"})
        if request.method == "DELETE":
            # What API Gateway sends the client on DeleteConnection: 1001, "going away" (the local server
            # closes an ended session's socket with 1008; the AWS path can only say what API Gateway says).
            await websocket.close(code=CLOSE_GOING_AWAY)
            return Response(status_code=204)
        if request.method == "GET":
            return JSONResponse({"connectedAt": "", "identity": {}})
        try:
            await websocket.send_text((await request.body()).decode("utf-8"))
        except (RuntimeError, WebSocketDisconnect):
            return JSONResponse({"message": "Gone"}, status_code=410, headers={"x-amzn-ErrorType": "GoneException"})
        return Response(status_code=200)

    # SNS → the worker (SNS invokes a subscribed Lambda asynchronously)

    async def sns_delivery(self, request: Request) -> Response:
        notification = json.loads(await request.body())
        if notification.get("Type") == "Notification":
            event = sns_event(self.topic_arn, notification["Message"], notification.get("MessageId", ""))
            self._spawn(self.functions.worker.invoke(event))
        return Response(status_code=200)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a Lambda invocation failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for invocations still running (answers being generated)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)


# Hop-by-hop headers, and those the proxy sets itself.
_NOT_FORWARDED = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}
_NOT_RELAYED = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


def _public_route(method: str, path: str) -> str | None:
    """The public route a request matches, if any (the others pass the authorizer)."""
    if path == "/openapi.json":
        return "GET /openapi.json"
    token = path.removeprefix(PUBLIC_SHARE_PREFIX)
    if method == "GET" and token != path and token and "/" not in token:
        return PUBLIC_SHARE_ROUTE
    return PUBLIC_ROUTES.get((method, path))


def _route_of(body: str) -> str:
    """API Gateway's route selection expression: ``$request.body.action``."""
    try:
        action = json.loads(body).get("action")
    except (ValueError, AttributeError, RecursionError):
        return "$default"
    return action if action in WS_ROUTES else "$default"
