"""Attached files: their limits, where their bytes live, and the service that processes and serves them."""

from __future__ import annotations

from parley.config import Settings
from parley.core.files.base import FileBlobs, FileLimits
from parley.core.files.images import ImageProcessor, PillowImages
from parley.core.files.local_blobs import LocalFileBlobs
from parley.core.files.sandbox import SubprocessExtractor
from parley.core.files.service import FileService
from parley.core.retrieval.embeddings import Embedder, build_embedder
from parley.core.retrieval.indexer import DocumentIndexer
from parley.core.store.base import Stores


def build_file_limits(settings: Settings) -> FileLimits:
    return FileLimits(max_file_bytes=settings.max_file_bytes, max_user_bytes=settings.max_user_file_bytes)


def build_file_blobs(settings: Settings) -> FileBlobs:
    """This machine's blobs, under the data directory: the local home's. The serverless home passes its bucket's
    to ``open_runtime`` (and ``build_files``) instead."""
    return LocalFileBlobs(settings.files_dir)


def build_files(
    settings: Settings,
    stores: Stores,
    blobs: FileBlobs | None = None,
    *,
    images: ImageProcessor | None = None,
    embedder: Embedder | None = None,
) -> FileService:
    """Attached files, on both homes (the server's routes, the serverless file worker, user removal). A document's
    passages are indexed once, as it is processed, with ``embedder``'s vectors when there is one (by default the
    configured embedding model's)."""
    limits = build_file_limits(settings)
    return FileService(
        stores.files,
        blobs or build_file_blobs(settings),
        limits=limits,
        extractor=SubprocessExtractor(limits),
        images=images or PillowImages(),
        indexer=DocumentIndexer(stores.passages, embedder if embedder is not None else build_embedder(settings)),
    )
