"""Attached files in a private S3 bucket: the serverless home's ``FileBlobs`` and ``FileTransfer``.

Every blob of a file lives under ``files/<user>/<file>/``: the original as uploaded, and what processing makes of
it (the extracted text, the re-encoded image). The browser posts the original straight to the bucket with a
presigned POST (a Lambda request is capped at 6 MB, a response too), whose policy caps its size; the bucket's
ObjectCreated event for an original runs the file worker. An original is downloaded with a presigned GET that
lives minutes. Nothing here expires: a file stays until its owner deletes it.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from parley.aws.clients import aws_client
from parley.config import ENV_FILES_BUCKET, Settings
from parley.core.files.base import ORIGINAL, StoredFile, blob_key
from parley.errors import ConfigError
from parley.server.history_transfer import UploadTarget

FILES_PREFIX = "files/"
LINK_SECONDS = 300
UPLOAD_SECONDS = 900
_DELETE_BATCH = 1000  # DeleteObjects takes at most this many keys
_MISSING = {"404", "NoSuchKey", "NotFound"}


def original_key(user_id: str, file_id: str) -> str:
    """The bucket key of a file's original: where its upload goes, and what its event names."""
    return FILES_PREFIX + blob_key(user_id, file_id, ORIGINAL)


def file_of_key(key: str) -> tuple[str, str] | None:
    """(user id, file id) of an original's key; None for any other key (a derived blob, a stray object)."""
    if not key.startswith(FILES_PREFIX):
        return None
    parts = key[len(FILES_PREFIX) :].split("/")
    if len(parts) != 3 or not all(parts) or parts[2] != ORIGINAL:
        return None
    return parts[0], parts[1]


def bucket_blobs(settings: Settings) -> S3FileBlobs | None:
    """The files bucket's blobs when the settings name one (``PARLEY_FILES_BUCKET``), for a command run against a
    deployment: ``parley users remove`` then removes the user's files from the bucket, not from this machine."""
    if not settings.files_bucket:
        return None
    return S3FileBlobs(aws_client("s3", settings), settings.files_bucket)


class S3FileBlobs:
    """``FileBlobs`` over the bucket: the protocol's keys (``<user>/<file>/<name>``) under ``files/``."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client  # a low-level "s3" client
        self._bucket = bucket

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._s3.put_object, Bucket=self._bucket, Key=_object_key(key), Body=data)

    async def get(self, key: str) -> bytes | None:
        try:
            answer = await asyncio.to_thread(self._s3.get_object, Bucket=self._bucket, Key=_object_key(key))
        except ClientError as error:
            if _missing(error):
                return None
            raise
        body = answer["Body"]
        try:
            data: bytes = await asyncio.to_thread(body.read)
        finally:
            body.close()
        return data

    async def size(self, key: str) -> int | None:
        try:
            head = await asyncio.to_thread(self._s3.head_object, Bucket=self._bucket, Key=_object_key(key))
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return int(head["ContentLength"])

    async def delete_prefix(self, prefix: str) -> None:
        # Always a whole path segment: "u1" must not take "u10/..." with it, and "" must not empty the bucket.
        segment = prefix.strip("/")
        if not segment:
            raise ValueError("a blob prefix names a user or a file")
        listed = f"{FILES_PREFIX}{segment}/"
        token: str | None = None
        while True:
            page = await asyncio.to_thread(self._list, listed, token)
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            for start in range(0, len(keys), _DELETE_BATCH):
                await asyncio.to_thread(
                    self._s3.delete_objects,
                    Bucket=self._bucket,
                    Delete={"Objects": keys[start : start + _DELETE_BATCH], "Quiet": True},
                )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or token is None:
                return

    def _list(self, prefix: str, token: str | None) -> dict[str, Any]:
        arguments: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if token is not None:
            arguments["ContinuationToken"] = token
        listed: dict[str, Any] = self._s3.list_objects_v2(**arguments)
        return listed


class S3FileTransfer:
    """Originals posted to the bucket (presigned POST) and downloaded from it (presigned GET)."""

    uploads_here = False

    def __init__(self, client: Any, bucket: str, *, max_file_bytes: int) -> None:
        self._s3 = client  # SigV4: presigned links say how long they live, and every region accepts them
        self._bucket = bucket
        self._max_file_bytes = max_file_bytes

    async def upload_target(self, file: StoredFile) -> UploadTarget:
        # The user's quota was checked against the size they declared: the bucket takes no more than that (nor
        # more than the per-file limit). The worker checks the size again (an emulated bucket enforces no policy).
        cap = max(1, min(file.size, self._max_file_bytes))
        post: dict[str, Any] = await asyncio.to_thread(
            self._s3.generate_presigned_post,
            self._bucket,
            original_key(file.user_id, file.id),
            Conditions=[["content-length-range", 1, cap]],
            ExpiresIn=UPLOAD_SECONDS,
        )
        return UploadTarget(url=post["url"], fields=dict(post["fields"]), max_bytes=cap)

    async def download_link(self, file: StoredFile) -> str | None:
        url: str = await asyncio.to_thread(
            self._s3.generate_presigned_url,
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": original_key(file.user_id, file.id),
                "ResponseContentDisposition": _attachment(file.name),
                "ResponseContentType": "application/octet-stream",
            },
            ExpiresIn=LINK_SECONDS,
        )
        return url


class NoFilesBucket:
    """A deployment without the bucket: a function's disk is no place to keep files, so uploads are refused with
    the reason, not half-served."""

    uploads_here = False

    async def upload_target(self, file: StoredFile) -> UploadTarget:
        raise ConfigError(f"Attached files need the files bucket ({ENV_FILES_BUCKET}).")

    async def download_link(self, file: StoredFile) -> str | None:
        raise ConfigError(f"Attached files need the files bucket ({ENV_FILES_BUCKET}).")


def _object_key(key: str) -> str:
    return FILES_PREFIX + key


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in _MISSING


def _attachment(name: str) -> str:
    """A download's Content-Disposition: the name as the user gave it (RFC 5987), and an ASCII fallback."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
