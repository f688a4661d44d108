"""Where core errors become HTTP status codes and WebSocket close codes. Clients never see a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley import errors
from parley.server.openai_errors import is_openai_path, openai_error_response, openai_status_and_code
from parley.server.schemas import error_body
from parley.server.uploads import is_upload

log = logging.getLogger(__name__)

# Most specific class first wins, by walking the exception's MRO.
HTTP_STATUS: dict[type[errors.ParleyError], int] = {
    errors.InvalidInput: 400,
    errors.TooLarge: 413,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Forbidden: 403,
    errors.TooManyGenerations: 429,
    errors.RateLimited: 429,
    # A used-up budget is 429 as OpenAI's insufficient_quota is (clients know it, and Retry-After says when it
    # resets); 402 is reserved by HTTP and most clients treat it as an unknown error.
    errors.BudgetExceeded: 429,
    errors.ShuttingDown: 503,
    errors.AuthError: 401,
    errors.AccountPending: 403,
    errors.LoginThrottled: 429,
    errors.ProviderError: 502,
    errors.ProviderRateLimited: 503,
    errors.ProviderTimeout: 504,
    errors.ConfigError: 500,
    errors.ParleyError: 500,
}


def status_for(error_class: type[errors.ParleyError]) -> int:
    for cls in error_class.__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def status_for_code(code: str) -> int:
    """The status of an error known only by its code (as carried by an error event)."""
    pending: list[type[errors.ParleyError]] = [errors.ParleyError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return status_for(cls)
        pending.extend(cls.__subclasses__())
    return 500


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def _parley_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ParleyError)
    status = status_for(type(exc))
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RetryLater):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.AuthError) and status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.TooLarge) or is_upload(request.method, request.url.path):
        # The rest of an upload that is refused (past its cap, or before a byte was read: another user's file) is
        # not read: the connection ends, or the server would go on taking a body nobody wants.
        headers["Connection"] = "close"
    if status >= 500:
        log.error("request failed: %s: %s", exc.code, exc.message)
    if is_openai_path(request.url.path):
        status, code = openai_status_and_code(exc, status)
        param = exc.param if isinstance(exc, errors.InvalidParameter) else None
        return openai_error_response(status, exc.message, code, param=param, headers=headers)
    return error_response(status, exc.code, exc.message, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    first_field: str | None = None
    for problem in exc.errors()[:5]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "body"
        first_field = first_field or where
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    message = "; ".join(problems) or "The request is not valid."
    if is_openai_path(request.url.path):  # OpenAI answers a malformed request with 400, not FastAPI's 422
        return openai_error_response(400, message, "invalid_request", param=first_field)
    return error_response(422, "invalid_input", message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 401: "unauthorized"}
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 413:
        headers["Connection"] = "close"  # as for TooLarge: the rest of the body is not read
    code = codes.get(exc.status_code, "http_error")
    if is_openai_path(request.url.path):
        return openai_error_response(exc.status_code, message, code, headers=headers or None)
    return error_response(exc.status_code, code, message, headers or None)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    message = "Something went wrong on the server."
    if is_openai_path(request.url.path):
        return openai_error_response(500, message, "internal_error")
    return error_response(500, "internal_error", message)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.ParleyError, _parley_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
