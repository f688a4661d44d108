"""The files bucket: the files users attach to prompts, posted by the browser straight to it (a presigned POST: a
Lambda request is capped at 6 MB) and processed by the file worker, which the bucket's ObjectCreated event for an
original invokes.

Its own bucket, not a prefix of the history bucket: that one is scratch space (everything in it expires after a day,
and it goes with the stack), while a file is user data, kept until its owner deletes it and kept when the stack is
destroyed, like the table. Private, encrypted, TLS only, no versions (a deleted file is gone); the site's pages may
post to it (CORS) and nothing else. Its name is fixed from the account and region, so the site's CSP can name its
origin without depending on it (the bucket's CORS rule depends on the site).

Keys (parley/aws/files_bucket.py, with the blob names of parley/core/files/base.py): ``files/<user>/<file>/original``
as uploaded, ``.../text.json`` (the extracted text) and ``.../image`` (the re-encoded image) as processing makes them.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from parley_stack.upload_buckets import upload_bucket, upload_bucket_name
from parley_stack.upload_buckets import upload_origins as bucket_origins

FILES = "files/"
ORIGINAL = "/original"  # ORIGINAL in parley/core/files/base.py: the only key whose creation runs the worker
DERIVED = ("text.json", "image")  # TEXT and IMAGE there: what the worker writes
# The HTTP API's function: presigns uploads and downloads, puts a small one-step upload, reads an image to serve
# it, deletes a file's blobs (or a user's).
APP_ACTIONS = ("s3:PutObject", "s3:GetObject", "s3:DeleteObject")


def files_bucket_name(stack: Stack) -> str:
    return upload_bucket_name(stack, "files")


def upload_origins(stack: Stack) -> list[str]:
    return bucket_origins(stack, files_bucket_name(stack))


class FilesBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, site_url: str) -> None:
        super().__init__(scope, construct_id)
        self.bucket = upload_bucket(
            self,
            "Bucket",
            name=files_bucket_name(Stack.of(self)),
            site_url=site_url,
            versioned=False,
            # No lifecycle rule: a file lives until its owner deletes it (or their account goes).
            removal_policy=RemovalPolicy.RETAIN,
        )

    @property
    def name(self) -> str:
        return self.bucket.bucket_name

    def grant_app(self, function: lambda_.IFunction) -> None:
        """The HTTP API's function: every file's blobs, and listing under files/ only (to delete a file's or a
        user's blobs by prefix), never the whole bucket."""
        function.add_to_role_policy(
            iam.PolicyStatement(actions=list(APP_ACTIONS), resources=[self.bucket.arn_for_objects(f"{FILES}*")])
        )
        self._grant_listing(function)

    def grant_read_derived(self, function: lambda_.IFunction) -> None:
        """A function that builds or runs a chat turn with attachments: reads a document's text and an image as
        processing left them, never an original."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{FILES}*/{name}") for name in DERIVED],
            )
        )

    def process_files_with(self, worker: lambda_.IFunction) -> None:
        """Each original created invokes ``worker``, which may read originals and write what it makes of them."""
        originals = self.bucket.arn_for_objects(f"{FILES}*{ORIGINAL}")
        worker.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[originals]))
        worker.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{FILES}*/{name}") for name in DERIVED],
            )
        )
        # A file deleted while it was processed: what processing wrote after the deletion is removed by prefix.
        # An original past what was declared is not kept either.
        worker.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:DeleteObject"], resources=[self.bucket.arn_for_objects(f"{FILES}*")])
        )
        self._grant_listing(worker)
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(worker),
            s3.NotificationKeyFilter(prefix=FILES, suffix=ORIGINAL),
        )

    def _grant_listing(self, function: lambda_.IFunction) -> None:
        """Listing keys under files/ (to delete by prefix), never the whole bucket."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{FILES}*"]}},
            )
        )
