"""Requests turned into the Lambda events API Gateway sends, and Lambda answers turned back into responses."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from parley.server.cloudfront import SECRET_HEADER, VIEWER_ADDRESS_HEADER

STAGE = "$default"
WS_STAGE = "local"
# What API Gateway sees as the peer of a request CloudFront forwards: an edge server, not the viewer
# (an address for documentation, RFC 5737).
CLOUDFRONT_EDGE_ADDRESS = "192.0.2.10"


@dataclass(frozen=True)
class CloudFront:
    """The distribution in front of the HTTP API, as far as the API can tell: the headers it adds."""

    origin_secret: str

    def origin_headers(self, request: Request) -> dict[str, str]:
        """What CloudFront adds to each request it forwards: the viewer's address (its function on the API's
        behaviour) and the origin secret. Both replace any header of the same name the viewer sent."""
        viewer = request.client.host if request.client else "127.0.0.1"
        return {VIEWER_ADDRESS_HEADER.lower(): viewer, SECRET_HEADER.lower(): self.origin_secret}


def _headers(request_headers: Any) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in request_headers.items():
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged


def http_event(
    request: Request,
    body: bytes,
    route_key: str,
    authorizer_context: dict[str, Any] | None,
    cloudfront: CloudFront | None = None,
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event, for a request that came through ``cloudfront``, or straight to the API."""
    headers = _headers(request.headers)
    # API Gateway says how the client reached it (always https on AWS; here, plain http on loopback).
    headers["x-forwarded-proto"] = request.url.scheme
    source_ip = request.client.host if request.client else "127.0.0.1"
    if cloudfront is not None:
        headers.update(cloudfront.origin_headers(request))
        source_ip = CLOUDFRONT_EDGE_ADDRESS
    text_body = True
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        text_body = False
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.url.path,
        "rawQueryString": request.url.query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": STAGE,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": not text_body,
    }
    if request.query_params:
        event["queryStringParameters"] = {
            key: ",".join(request.query_params.getlist(key)) for key in request.query_params
        }
    if "cookie" in headers:  # payload 2.0 lists cookies on their own, not among the headers
        event["cookies"] = [c.strip() for c in headers.pop("cookie").split(";")]
    if body:
        event["body"] = decoded if text_body else base64.b64encode(body).decode()
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer_context}
    return event


def authorizer_event(request: Request, route_key: str, cloudfront: CloudFront | None = None) -> dict[str, Any]:
    """A Lambda REQUEST authorizer event, payload 2.0, with no identity source (none is configured)."""
    event = http_event(request, b"", route_key, None, cloudfront)
    event.pop("isBase64Encoded", None)
    event["type"] = "REQUEST"
    event["routeArn"] = f"arn:aws:execute-api:local:000000000000:local/{STAGE}/{request.method}{request.url.path}"
    return event


def http_response(result: dict[str, Any]) -> Response:
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(content=content, status_code=int(result.get("statusCode", 200)))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = value
    for cookie in result.get("cookies") or []:
        response.headers.append("set-cookie", cookie)
    return response


def ws_event(event_type: str, route_key: str, connection_id: str, domain: str, **extra: Any) -> dict[str, Any]:
    """A WebSocket API event (CONNECT, MESSAGE or DISCONNECT)."""
    now = int(time.time() * 1000)
    return {
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "stage": WS_STAGE,
            "connectedAt": now,
            "requestTimeEpoch": now,
            "requestId": uuid.uuid4().hex,
            "domainName": domain,
            "connectionId": connection_id,
            "apiId": "local-ws",
        },
        "isBase64Encoded": False,
        **extra,
    }


def sns_event(topic_arn: str, message: str, message_id: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:local",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": None,
                    "Message": message,
                    "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "MessageAttributes": {},
                },
            }
        ]
    }
