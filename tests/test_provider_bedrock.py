"""The Bedrock provider over an injected client that answers like boto3's converse_stream."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from parley.aws.bedrock import BedrockProvider
from parley.core.providers.base import ChatMessage, FinishChunk, GenerationParams, TextChunk, UsageChunk
from parley.errors import ProviderAuthError, ProviderRateLimited, StreamInterrupted

PARAMS = GenerationParams(temperature=0.3, top_p=0.9, max_tokens=50, frequency_penalty=0, presence_penalty=0)
MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]


class FakeBedrock:
    def __init__(self, events=None, error=None, fail_after=None):
        self.events = events or []
        self.error = error
        self.fail_after = fail_after
        self.requests = []

    def converse_stream(self, **request):
        self.requests.append(request)
        if self.error is not None and self.fail_after is None:
            raise self.error
        return {"stream": self._stream()}

    def _stream(self):
        for index, event in enumerate(self.events):
            if self.fail_after == index:
                raise self.error
            yield event


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "nope"}}, "ConverseStream")


ANSWER = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"delta": {"text": "Hello"}, "contentBlockIndex": 0}},
    {"contentBlockDelta": {"delta": {"text": " there"}, "contentBlockIndex": 0}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"messageStop": {"stopReason": "max_tokens"}},
    {"metadata": {"usage": {"inputTokens": 12, "outputTokens": 2, "totalTokens": 14}, "metrics": {"latencyMs": 80}}},
]


async def collect(provider, model="amazon.nova-lite-v1:0"):
    return [chunk async for chunk in provider.stream(model, MESSAGES, PARAMS)]


async def test_streams_text_finish_and_usage_and_sends_the_params():
    client = FakeBedrock(ANSWER)
    provider = BedrockProvider(client, ["amazon.nova-lite-v1:0"])
    chunks = await collect(provider)
    assert chunks[:2] == [TextChunk("Hello"), TextChunk(" there")]
    assert isinstance(chunks[2], FinishChunk) and chunks[2].reason == "length"
    assert isinstance(chunks[3], UsageChunk) and chunks[3].usage.prompt_tokens == 12
    request = client.requests[0]
    assert request["modelId"] == "amazon.nova-lite-v1:0"
    assert request["system"] == [{"text": "Be brief."}]
    assert request["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]
    assert request["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.3, "topP": 0.9}


async def test_lists_configured_models_with_bedrock_ranges():
    models = await BedrockProvider(FakeBedrock(), ["a", "b"]).list_models()
    assert [m.id for m in models] == ["a", "b"]
    assert models[0].ranges.temperature.max == 1.0
    assert models[0].ranges.frequency_penalty.max == 0.0  # Converse has no penalties


@pytest.mark.parametrize(
    ("code", "error"), [("AccessDeniedException", ProviderAuthError), ("ThrottlingException", ProviderRateLimited)]
)
async def test_errors_before_the_stream_are_typed(code, error):
    with pytest.raises(error):
        await collect(BedrockProvider(FakeBedrock(error=client_error(code)), ["m"]), "m")


async def test_a_failure_mid_stream_is_an_interruption_after_the_text():
    client = FakeBedrock(ANSWER, error=client_error("ModelStreamErrorException"), fail_after=2)
    received = []
    with pytest.raises(StreamInterrupted):
        async for chunk in BedrockProvider(client, ["m"]).stream("m", MESSAGES, PARAMS):
            received.append(chunk)
    assert received == [TextChunk("Hello")]
