"""Embedding vectors as stored (little-endian float32), and cosine similarity in
plain Python, for where no vector extension is loaded (Python's sqlite3 is often built unable to load one, and a
Lambda keeps its dependencies small)."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence


def pack(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def unpack(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def normalized(vector: Sequence[float]) -> tuple[float, ...]:
    """The vector scaled to length 1 (a zero vector as it is), so a dot product is the cosine similarity."""
    length = math.sqrt(math.fsum(x * x for x in vector))
    return tuple(vector) if length == 0 else tuple(x / length for x in vector)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b):
        return 0.0  # vectors of another model (the embedding model was changed): no similarity to speak of
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    return dot / norms if norms else 0.0
