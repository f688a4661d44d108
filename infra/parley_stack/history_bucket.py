"""The history bucket: where exports are written for a presigned download, and where the browser posts an import's
file (a presigned POST) for the import worker, which the bucket's ObjectCreated event invokes.

Private, encrypted, TLS only; the site's pages may post to it (CORS) and nothing else; everything in it expires
after a day. Its name is fixed from the account and region, so the site's CSP can name its origin without
depending on it (the bucket's CORS rule depends on the site).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from parley_stack.upload_buckets import upload_bucket, upload_bucket_name
from parley_stack.upload_buckets import upload_origins as bucket_origins

EXPORTS = "exports/"
IMPORTS = "imports/"
KEEP_DAYS = 1
# Writing an archive in parts, presigning its download; presigning an upload (the POST is signed by this role).
EXPORT_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload")
UPLOAD_ACTIONS = ("s3:PutObject",)
WORKER_ACTIONS = ("s3:GetObject", "s3:DeleteObject")


def history_bucket_name(stack: Stack) -> str:
    return upload_bucket_name(stack, "history")


def upload_origins(stack: Stack) -> list[str]:
    return bucket_origins(stack, history_bucket_name(stack))


class HistoryBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, site_url: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = upload_bucket(
            self,
            "Bucket",
            name=history_bucket_name(Stack.of(self)),
            site_url=site_url,
            # Uploads wait minutes for their worker, exports for their download: nothing needs to stay a day.
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireExports",
                    prefix=EXPORTS,
                    expiration=Duration.days(KEEP_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(KEEP_DAYS),
                ),
                s3.LifecycleRule(id="ExpireUploads", prefix=IMPORTS, expiration=Duration.days(KEEP_DAYS)),
            ],
            # Holds nothing for long (see above): it goes with the stack once empty.
            removal_policy=RemovalPolicy.DESTROY,
        )

    @property
    def name(self) -> str:
        return self.bucket.bucket_name

    def grant_transfers(self, function: lambda_.IFunction) -> None:
        """The HTTP API's function: writes and presigns exports, presigns uploads."""
        self._grant(function, EXPORT_ACTIONS, EXPORTS)
        self._grant(function, UPLOAD_ACTIONS, IMPORTS)

    def run_imports_with(self, worker: lambda_.IFunction) -> None:
        """Each file created under imports/ invokes ``worker``, which may read and delete only those."""
        self._grant(worker, WORKER_ACTIONS, IMPORTS)
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(worker), s3.NotificationKeyFilter(prefix=IMPORTS)
        )

    def _grant(self, function: lambda_.IFunction, actions: tuple[str, ...], prefix: str) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(actions=list(actions), resources=[self.bucket.arn_for_objects(f"{prefix}*")])
        )
