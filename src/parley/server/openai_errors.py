"""Errors on the OpenAI-compatible routes (``/v1``), in OpenAI's shape, so that OpenAI clients raise their own
exception classes: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from parley import errors

OPENAI_PREFIX = "/v1"

# Status -> OpenAI's error type.
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
}


def is_openai_path(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


def openai_error_body(status: int, message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def openai_error_response(
    status: int, message: str, code: str | None, *, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(openai_error_body(status, message, code, param), status_code=status, headers=headers)


def openai_status_and_code(error: errors.ParleyError, status: int) -> tuple[int, str | None]:
    """OpenAI's status and code for a core error that Parley's own API answers with ``status``."""
    if isinstance(error, errors.UnknownModel):
        return 404, "model_not_found"  # OpenAI answers an unknown model with 404, Parley's app API with 400
    if isinstance(error, errors.RateLimited | errors.TooManyGenerations):
        return 429, "rate_limit_exceeded"  # OpenAI's clients back off and retry on this code
    return status, error.code
