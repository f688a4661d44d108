"""The attached files service: upload, processing (text extraction, images, indexing), download, removal."""

from __future__ import annotations

from parley.compose.file_storage import build_file_blobs, build_file_limits
from parley.config import Settings
from parley.core.files.base import FileBlobs
from parley.core.files.images import ImageProcessor, PillowImages
from parley.core.files.sandbox import SubprocessExtractor
from parley.core.files.service import FileService
from parley.core.retrieval.embeddings import Embedder, build_embedder
from parley.core.retrieval.indexer import DocumentIndexer
from parley.core.store.base import Stores


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
