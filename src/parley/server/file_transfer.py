"""Where an attached file's bytes are uploaded to and an original is downloaded from: the one thing about files
that differs between the homes. The ``/api/files`` routes are the same on both; each home hands the app its
``FileTransfer``.

Locally (``LocalFileTransfer``) the browser posts the file to ``POST /api/files/{id}/content`` on this server,
which keeps it under the data directory and starts processing it. On AWS (``parley.aws.files_bucket``) the browser
posts it straight to a private S3 bucket with a presigned POST (a Lambda request is capped at 6 MB), and the
bucket's ObjectCreated event runs the file worker, which processes it: the routes neither receive those bytes
nor start processing.
"""

from __future__ import annotations

from typing import Protocol

from parley.core.files.base import StoredFile
from parley.server.history_transfer import UploadTarget


class FileTransfer(Protocol):
    uploads_here: bool
    """True when the bytes come through this server (``POST /api/files/{id}/content``), which then starts
    processing; False when they go straight to a bucket, whose event starts it (that route is then not found)."""

    async def upload_target(self, file: StoredFile) -> UploadTarget:
        """Where the bytes of a new (uploading) file are to be posted, in a multipart field ``file``."""

    async def download_link(self, file: StoredFile) -> str | None:
        """A URL the owner's browser may fetch the original from, for a few minutes; None when this server
        serves it itself (``GET /api/files/{id}/content``)."""


class LocalFileTransfer:
    """Uploads to this server, which serves the originals too."""

    uploads_here = True

    def __init__(self, *, max_file_bytes: int) -> None:
        self._max_file_bytes = max_file_bytes

    async def upload_target(self, file: StoredFile) -> UploadTarget:
        return UploadTarget(url=f"/api/files/{file.id}/content", max_bytes=self._max_file_bytes)

    async def download_link(self, file: StoredFile) -> str | None:
        return None
