"""Retrieval over attached documents: a document's text cut into passages (``chunking``), indexed once when the
file is processed (``indexer``, into a ``PassageIndex`` of the store), searched per prompt by keywords (BM25) and,
when an embedding model is configured (``embeddings``), by vectors too, the two lists fused (``fusion``)."""
