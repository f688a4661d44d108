"""boto3 clients, created when a function or command starts (never at import time)."""

from __future__ import annotations

from typing import Any

import boto3

from parley.config import Settings


def aws_client(service: str, settings: Settings, **kwargs: Any) -> Any:
    """A low-level client; ``settings.aws_endpoint_url`` points it at a local emulation (moto) when set."""
    if settings.aws_endpoint_url and "endpoint_url" not in kwargs:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    return boto3.client(service, **kwargs)
