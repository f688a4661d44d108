"""Where attached files' bytes live and how large they may be: light, for every process that reads files."""

from __future__ import annotations

from parley.config import Settings
from parley.core.files.base import FileBlobs, FileLimits
from parley.core.files.local_blobs import LocalFileBlobs


def build_file_limits(settings: Settings) -> FileLimits:
    return FileLimits(max_file_bytes=settings.max_file_bytes, max_user_bytes=settings.max_user_file_bytes)


def build_file_blobs(settings: Settings) -> FileBlobs:
    """This machine's blobs, under the data directory: the local home's. The serverless home passes its bucket's
    to ``open_runtime`` (and ``build_files``) instead."""
    return LocalFileBlobs(settings.files_dir)
