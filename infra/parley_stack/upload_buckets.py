"""What the buckets the browser uploads to share (the history bucket's imports, the files bucket's files): a name
fixed from the account and region, so the site's CSP can name their origins without depending on them (their CORS
rules depend on the site); private, encrypted, TLS only; the site's pages may POST to them, and nothing else."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct


def upload_bucket_name(stack: Stack, purpose: str) -> str:
    return f"{stack.stack_name.lower()}-{purpose}-{stack.account}-{stack.region}"


def upload_origins(stack: Stack, name: str) -> list[str]:
    """Where a presigned POST sends the browser: the bucket's global and regional virtual-host names."""
    return [f"https://{name}.s3.amazonaws.com", f"https://{name}.s3.{stack.region}.amazonaws.com"]


def upload_bucket(scope: Construct, construct_id: str, *, name: str, site_url: str, **options: Any) -> s3.Bucket:
    """The bucket; ``options`` add what sets it apart (its lifecycle, its removal policy)."""
    return s3.Bucket(
        scope,
        construct_id,
        bucket_name=name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        cors=[
            s3.CorsRule(
                allowed_methods=[s3.HttpMethods.POST],
                allowed_origins=[site_url],
                allowed_headers=["*"],
                max_age=3000,
            )
        ],
        **options,
    )
