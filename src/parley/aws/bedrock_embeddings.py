"""The ``bedrock`` embedding provider: Amazon Titan text embeddings (``amazon.titan-embed-text-v2:0``) through
``InvokeModel``, one text a call (Titan takes one input); calls run in worker threads, a few at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from parley.aws.clients import aws_client
from parley.config import Settings
from parley.core.retrieval.embeddings import Embedder, embedding_provider
from parley.errors import ProviderAuthError, ProviderError, ProviderRateLimited, ProviderUnavailable

_ERRORS: dict[str, type[ProviderError]] = {
    "AccessDeniedException": ProviderAuthError,
    "UnrecognizedClientException": ProviderAuthError,
    "ThrottlingException": ProviderRateLimited,
    "ServiceUnavailableException": ProviderUnavailable,
}
_CONCURRENT_CALLS = 8


class TitanEmbedder:
    def __init__(self, client: Any, model: str, dimensions: int = 1024) -> None:
        self.model = model
        self._client = client
        self._dimensions = dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        limit = asyncio.Semaphore(_CONCURRENT_CALLS)

        async def one(text: str) -> list[float]:
            async with limit:
                return await asyncio.to_thread(self._invoke, text)

        return list(await asyncio.gather(*(one(text) for text in texts)))

    def _invoke(self, text: str) -> list[float]:
        body = json.dumps({"inputText": text, "dimensions": self._dimensions, "normalize": True})
        try:
            response = self._client.invoke_model(
                modelId=self.model, body=body, contentType="application/json", accept="application/json"
            )
            data = json.loads(response["body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise _ERRORS.get(code, ProviderError)("The embedding model failed.") from exc
        except BotoCoreError as exc:
            raise ProviderUnavailable("The embedding model could not be reached.") from exc
        return [float(x) for x in data["embedding"]]

    async def aclose(self) -> None:
        return None


@embedding_provider("bedrock")
def _bedrock(settings: Settings) -> Embedder:
    assert settings.embedding_model is not None
    return TitanEmbedder(aws_client("bedrock-runtime", settings), settings.embedding_model)
