"""History through a private S3 bucket: the serverless home's ``HistoryTransfer``.

A Lambda response is capped at 6 MB and a request at API Gateway's 10 MB, so neither an archive nor an upload
goes through the HTTP API: an export is written to ``exports/<user>/<random>.zip`` and downloaded with a presigned
GET that lives minutes; an import's file is posted by the browser straight to ``imports/<user>/<job>`` with a
presigned POST (its size capped by the policy), and the bucket's ObjectCreated event runs the import worker.
The bucket's lifecycle rule removes what is left after a day.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from parley.config import ENV_HISTORY_BUCKET
from parley.core.store.base import ImportJob
from parley.errors import ConfigError
from parley.server.history_transfer import ArchiveWriter, UploadTarget

EXPORTS_PREFIX = "exports/"
IMPORTS_PREFIX = "imports/"
LINK_SECONDS = 300
UPLOAD_SECONDS = 900
_PART_BYTES = 8 * 1024 * 1024  # S3 multipart parts are at least 5 MB, but for the last


def import_key(user_id: str, job_id: str) -> str:
    return f"{IMPORTS_PREFIX}{user_id}/{job_id}"


def job_of_key(key: str) -> tuple[str, str] | None:
    """(user id, job id) of an upload's key; None for any other key."""
    if not key.startswith(IMPORTS_PREFIX):
        return None
    parts = key[len(IMPORTS_PREFIX) :].split("/")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


class S3Transfer:
    def __init__(self, client: Any, bucket: str, *, max_import_bytes: int) -> None:
        self._s3 = client
        self._bucket = bucket
        self._max_import_bytes = max_import_bytes

    async def export_link(self, user_id: str, archive: ArchiveWriter) -> str:
        key = f"{EXPORTS_PREFIX}{user_id}/{uuid.uuid4().hex}.zip"
        await self._write(key, archive)
        url: str = await asyncio.to_thread(
            self._s3.generate_presigned_url,
            "get_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ResponseContentDisposition": 'attachment; filename="parley-export.zip"',
                "ResponseContentType": "application/zip",
            },
            ExpiresIn=LINK_SECONDS,
        )
        return url

    async def upload_target(self, job: ImportJob) -> UploadTarget:
        post: dict[str, Any] = await asyncio.to_thread(
            self._s3.generate_presigned_post,
            self._bucket,
            import_key(job.user_id, job.id),
            Conditions=[["content-length-range", 1, self._max_import_bytes]],
            ExpiresIn=UPLOAD_SECONDS,
        )
        return UploadTarget(url=post["url"], fields=dict(post["fields"]), max_bytes=self._max_import_bytes)

    async def _write(self, key: str, archive: ArchiveWriter) -> None:
        """The archive streamed into the bucket in parts, never whole in the function's memory."""
        upload = await asyncio.to_thread(
            self._s3.create_multipart_upload, Bucket=self._bucket, Key=key, ContentType="application/zip"
        )
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        pending = bytearray()
        try:
            async for chunk in archive():
                pending += chunk
                if len(pending) >= _PART_BYTES:
                    parts.append(await self._part(key, upload_id, len(parts) + 1, bytes(pending)))
                    pending.clear()
            parts.append(await self._part(key, upload_id, len(parts) + 1, bytes(pending)))
            await asyncio.to_thread(
                self._s3.complete_multipart_upload,
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            await asyncio.to_thread(self._s3.abort_multipart_upload, Bucket=self._bucket, Key=key, UploadId=upload_id)
            raise

    async def _part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        result = await asyncio.to_thread(
            self._s3.upload_part, Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"PartNumber": number, "ETag": result["ETag"]}


class NoHistoryBucket:
    """A deployment without the bucket: archives and uploads are refused with the reason, not half-served."""

    async def export_link(self, user_id: str, archive: ArchiveWriter) -> str:
        raise ConfigError(f"Exports need the history bucket ({ENV_HISTORY_BUCKET}).")

    async def upload_target(self, job: ImportJob) -> UploadTarget:
        raise ConfigError(f"Imports need the history bucket ({ENV_HISTORY_BUCKET}).")
