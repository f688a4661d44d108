"""Embedding models behind one small interface, found by provider name in a registry (never an if/else chain).

Built in: ``openai``, any OpenAI-compatible ``POST /embeddings`` (OpenAI, Ollama's ``/v1``, vLLM, LiteLLM). Others
register with ``@embedding_provider("name")``; outside the core (Bedrock Titan, in ``parley.aws``) they are found
through the ``parley.embeddings`` entry points. Configured by settings (``PARLEY_EMBEDDING_MODEL`` and friends);
without a model there is no embedder, and retrieval ranks by keywords alone.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from parley.config import Settings
from parley.errors import ConfigError, ProviderAuthError, ProviderError, ProviderRateLimited, ProviderUnavailable

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


class Embedder(Protocol):
    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order. Raises a ProviderError when the model fails."""

    async def aclose(self) -> None: ...


EmbedderFactory = Callable[[Settings], Embedder]

_PROVIDERS: dict[str, EmbedderFactory] = {}


def embedding_provider(name: str) -> Callable[[EmbedderFactory], EmbedderFactory]:
    def register(factory: EmbedderFactory) -> EmbedderFactory:
        _PROVIDERS[name] = factory
        return factory

    return register


def build_embedder(settings: Settings) -> Embedder | None:
    """The configured embedding model; None when none is (keyword retrieval only)."""
    if not settings.embedding_model:
        return None
    name = settings.embedding_provider
    if name not in _PROVIDERS:
        for entry_point in importlib.metadata.entry_points(group="parley.embeddings", name=name):
            entry_point.load()
    try:
        factory = _PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(_PROVIDERS))
        raise ConfigError(f"Unknown embedding provider {name!r} (known: {known})") from None
    return factory(settings)


class OpenAIEmbedder:
    """``POST {base_url}/embeddings`` with a batch of inputs; the HTTP client is made on first use."""

    BATCH = 64  # inputs a request: OpenAI takes up to 2048, local servers fewer

    def __init__(self, model: str, base_url: str, api_key: str | None, timeout: float = 60.0) -> None:
        self.model = model
        self._url = base_url.rstrip("/") + "/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.BATCH):
            vectors.extend(await self._batch(texts[start : start + self.BATCH]))
        return vectors

    async def _batch(self, texts: Sequence[str]) -> list[list[float]]:
        import httpx  # loaded by the one path that uses it (tens of ms): processes without a model never pay it

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._client.post(
                self._url, json={"model": self.model, "input": list(texts)}, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("The embedding model could not be reached.") from exc
        if response.status_code in (401, 403):
            raise ProviderAuthError("The embedding provider refused the configured key.")
        if response.status_code == 429:
            raise ProviderRateLimited("The embedding provider is busy (rate limited).")
        if response.status_code >= 400:
            raise ProviderError(f"The embedding model failed (HTTP {response.status_code}).")
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError("The embedding model's answer was not understood.") from exc
        if len(vectors) != len(texts):
            raise ProviderError("The embedding model answered for a different number of texts.")
        return vectors

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@embedding_provider("openai")
def _openai(settings: Settings) -> Embedder:
    base_url = settings.embedding_base_url or settings.openai_base_url or "https://api.openai.com/v1"
    api_key = settings.embedding_api_key or settings.openai_api_key
    assert settings.embedding_model is not None
    return OpenAIEmbedder(settings.embedding_model, base_url, api_key)
