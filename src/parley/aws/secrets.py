"""Secrets for the Lambda functions, read from Secrets Manager once per cold start."""

from __future__ import annotations

from typing import Any

from parley.config import Settings


def resolve_secrets(settings: Settings, client: Any) -> Settings:
    """Settings with the JWT secret, the OpenAI key and CloudFront's origin secret filled in from their Secrets
    Manager ARNs."""
    overrides: dict[str, str] = {}
    if settings.jwt_secret_arn and not settings.jwt_secret:
        overrides["jwt_secret"] = _secret_string(client, settings.jwt_secret_arn)
    if settings.openai_api_key_secret_arn and not settings.openai_api_key:
        overrides["openai_api_key"] = _secret_string(client, settings.openai_api_key_secret_arn)
    if settings.cloudfront_secret_arn and not settings.cloudfront_secret:
        overrides["cloudfront_secret"] = _secret_string(client, settings.cloudfront_secret_arn)
    return settings.with_overrides(**overrides) if overrides else settings


def _secret_string(client: Any, arn: str) -> str:
    value = client.get_secret_value(SecretId=arn)["SecretString"]
    return str(value).strip()
