"""Which models can see, and how each provider sends images: OpenAI ``image_url`` parts (to the fake upstream, which
records what it received), Bedrock Converse image blocks (through the injected client), and the local model, which
refuses them."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from parley.aws.bedrock import BedrockProvider, bedrock_sees
from parley.config import Settings
from parley.core.providers.base import ChatMessage, GenerationParams, ImageInput, ModelInfo, TextChunk
from parley.core.providers.endpoints import Endpoint, ModelEntry, load_models_file
from parley.core.providers.local import MODEL_ID, LocalProvider
from parley.core.providers.openai_compat import OpenAICompatProvider
from parley.core.providers.registry import ModelRegistry
from parley.core.providers.vision import OPENAI_COMPATIBLE, sees
from parley.errors import ConfigError, ModelCannotSee, ParleyError, ProviderError
from parley.testing.fake_openai import FakeOpenAI, Script
from parley.testing.mock_provider import MockProvider
from tests.test_provider_bedrock import ANSWER, FakeBedrock

PARAMS = GenerationParams(temperature=0.3, top_p=0.9, max_tokens=50, frequency_penalty=0, presence_penalty=0)
SETTINGS = Settings(local_model=False, first_token_timeout=5, token_idle_timeout=5)
PNG = ImageInput("f1", "image/png", b"\x89PNG pretend pixels")
JPEG = ImageInput("f2", "image/jpeg", b"\xff\xd8\xff pretend photo")
LOOK = ChatMessage("user", "What is in these?", images=(PNG, JPEG))


@pytest.mark.parametrize(
    ("model", "vision"),
    [
        ("gpt-4o", True),
        ("gpt-4o-mini-2024-07-18", True),
        ("gpt-4o-audio-preview", False),
        ("gpt-4.1-nano", True),
        ("gpt-5-mini", True),
        ("o3", True),
        ("o3-mini", False),
        ("o4-mini", True),
        ("gpt-3.5-turbo", False),
        ("llava:13b", True),
        ("llama3.2-vision:11b", True),
        ("llama3.2", False),
        ("Qwen/Qwen2.5-VL-7B-Instruct", True),
        ("qwen2.5vl:7b", True),
        ("qwen2.5:7b", False),
        ("gemma3:4b", True),
        ("gemma3:1b", False),
        ("pixtral-12b-2409", True),
        ("anthropic/claude-3.5-sonnet", True),
        ("claude-3-5-haiku-latest", False),
        ("mistral", False),
        ("fake-model", False),
    ],
)
def test_known_vision_models_are_recognised_by_id(model, vision):
    assert sees(model, OPENAI_COMPATIBLE) is vision


@pytest.mark.parametrize(
    ("model", "vision"),
    [
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", True),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", True),
        ("anthropic.claude-sonnet-4-20250514-v1:0", True),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", False),
        ("anthropic.claude-v2:1", False),
        ("amazon.nova-micro-v1:0", False),
        ("amazon.nova-lite-v1:0", True),
        ("eu.amazon.nova-pro-v1:0", True),
        ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0", True),
        ("meta.llama3-1-8b-instruct-v1:0", False),
        ("meta.llama3-2-11b-instruct-v1:0", True),
        ("mistral.pixtral-large-2502-v1:0", True),
    ],
)
def test_bedrock_vision_models_are_recognised_by_id(model, vision):
    assert bedrock_sees(model) is vision


def test_the_models_file_says_which_models_see(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text(
        '[[endpoints]]\nname = "lab"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'models = ["llava", { id = "my-vlm", vision = true }, { id = "gpt-4o", vision = false }]\n'
    )
    [endpoint] = load_models_file(path, {})
    assert [(m.id, m.vision) for m in endpoint.models] == [("llava", None), ("my-vlm", True), ("gpt-4o", False)]
    path.write_text('[[endpoints]]\nname = "lab"\nmodels = [{ id = "x", vision = "yes" }]\n')
    with pytest.raises(ConfigError, match="'vision' must be true or false"):
        load_models_file(path, {})


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(models=["llama3.2"], vision_models=["llava:13b"]) as server:
        yield server


@pytest.fixture
async def openai_provider(fake: FakeOpenAI) -> AsyncIterator[OpenAICompatProvider]:
    provider = OpenAICompatProvider(Endpoint(name="lab", type="openai", base_url=fake.base_url), SETTINGS)
    yield provider
    await provider.aclose()


async def test_openai_models_say_whether_they_see(fake: FakeOpenAI):
    discovered = OpenAICompatProvider(Endpoint(name="lab", type="openai", base_url=fake.base_url), SETTINGS)
    listed = OpenAICompatProvider(
        Endpoint(
            name="lab",
            type="openai",
            base_url=fake.base_url,
            models=(ModelEntry("llava:13b", vision=False), ModelEntry("house-vlm", vision=True), ModelEntry("gpt-4o")),
        ),
        SETTINGS,
    )
    try:
        assert [(m.id, m.vision) for m in await discovered.list_models()] == [("llama3.2", False), ("llava:13b", True)]
        assert [(m.id, m.vision) for m in await listed.list_models()] == [
            ("llava:13b", False),  # the models file wins over what the id suggests
            ("house-vlm", True),
            ("gpt-4o", True),
        ]
    finally:
        await discovered.aclose()
        await listed.aclose()


async def test_openai_images_go_as_image_url_parts_after_the_text(fake, openai_provider):
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello."), LOOK]
    chunks = [chunk async for chunk in openai_provider.stream("llava:13b", messages, PARAMS)]
    assert chunks
    request = fake.chat_requests[-1]
    sent = request.body["messages"]
    assert sent[:3] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
    ]
    parts = sent[3]["content"]
    assert sent[3]["role"] == "user"
    assert parts[0] == {"type": "text", "text": "What is in these?"}
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG.data).decode()},
    }
    assert [(image.message_index, image.media_type, image.data) for image in request.images] == [
        (3, "image/png", PNG.data),
        (3, "image/jpeg", JPEG.data),
    ]


async def test_images_sent_without_text_go_without_an_empty_text_part(fake, openai_provider):
    alone = ChatMessage("user", "", images=(PNG,))
    chunks = [chunk async for chunk in openai_provider.stream("llava:13b", [alone], PARAMS)]
    assert chunks
    parts = fake.chat_requests[-1].body["messages"][0]["content"]
    assert [part["type"] for part in parts] == ["image_url"]


async def test_the_fake_upstream_refuses_images_for_a_model_that_cannot_see(fake, openai_provider):
    with pytest.raises(ProviderError, match="refused the request"):
        async for _ in openai_provider.stream("llama3.2", [LOOK], PARAMS):
            pass
    assert fake.chat_requests[-1].images  # it got them, and said no as OpenAI does


async def test_an_image_without_its_bytes_never_reaches_a_provider(fake, openai_provider):
    unloaded = ChatMessage("user", "look", images=(ImageInput("f9", "image/png"),))
    with pytest.raises(ParleyError, match="f9 was not loaded"):
        async for _ in openai_provider.stream("llava:13b", [unloaded], PARAMS):
            pass
    client = FakeBedrock(ANSWER)
    with pytest.raises(ParleyError, match="f9 was not loaded"):
        async for _ in BedrockProvider(client, ["amazon.nova-lite-v1:0"]).stream(
            "amazon.nova-lite-v1:0", [unloaded], PARAMS
        ):
            pass
    assert fake.chat_requests == [] and client.requests == []


async def test_bedrock_images_go_as_converse_image_blocks():
    client = FakeBedrock(ANSWER)
    provider = BedrockProvider(client, ["anthropic.claude-3-haiku-20240307-v1:0"])
    gif = ImageInput("f3", "image/gif", b"GIF89a")
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"), ChatMessage("assistant", "Hello.")]
    messages += [ChatMessage("user", "What is in these?", images=(PNG, JPEG)), ChatMessage("user", "", images=(gif,))]
    [chunk async for chunk in provider.stream("anthropic.claude-3-haiku-20240307-v1:0", messages, PARAMS)]
    sent = client.requests[0]["messages"]
    assert sent[:2] == [
        {"role": "user", "content": [{"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": "Hello."}]},
    ]
    assert sent[2] == {
        "role": "user",
        "content": [
            {"image": {"format": "png", "source": {"bytes": PNG.data}}},
            {"image": {"format": "jpeg", "source": {"bytes": JPEG.data}}},
            {"text": "What is in these?"},
        ],
    }
    assert sent[3] == {"role": "user", "content": [{"image": {"format": "gif", "source": {"bytes": b"GIF89a"}}}]}


async def test_bedrock_refuses_an_image_type_converse_does_not_take():
    client = FakeBedrock(ANSWER)
    svg = ChatMessage("user", "look", images=(ImageInput("f4", "image/svg+xml", b"<svg/>"),))
    with pytest.raises(ParleyError, match="image/svg"):
        async for _ in BedrockProvider(client, ["amazon.nova-pro-v1:0"]).stream("amazon.nova-pro-v1:0", [svg], PARAMS):
            pass
    assert client.requests == []


async def test_bedrock_models_say_whether_they_see():
    provider = BedrockProvider(
        FakeBedrock(),
        ["amazon.nova-lite-v1:0", "amazon.nova-micro-v1:0", ModelEntry("custom-import", vision=True)],
    )
    assert [(m.id, m.vision) for m in await provider.list_models()] == [
        ("amazon.nova-lite-v1:0", True),
        ("amazon.nova-micro-v1:0", False),
        ("custom-import", True),
    ]


async def test_the_local_model_cannot_see_and_refuses_images():
    provider = LocalProvider(model_path="/nonexistent/never-loaded.gguf")
    assert provider.model_info().vision is False
    with pytest.raises(ModelCannotSee, match="cannot see images"):
        async for _ in provider.stream(MODEL_ID, [LOOK], PARAMS):
            pass
    assert not provider.loaded  # refused before any process was started


async def test_the_registry_names_a_model_that_can_see():
    registry = ModelRegistry()
    blind = MockProvider(name="mock", models=("text-only",))
    registry.add_provider(blind, await blind.list_models())
    with pytest.raises(ModelCannotSee) as refused:
        registry.require_vision("text-only")
    assert refused.value.code == "model_cannot_see"
    assert "text-only cannot see images" in refused.value.message and "No model on this server" in refused.value.message
    seeing = MockProvider(name="lab", models=(), vision_models=("Eyes",))
    registry.add_provider(seeing, await seeing.list_models())
    with pytest.raises(ModelCannotSee, match="such as Eyes"):
        registry.require_vision("text-only")
    assert registry.require_vision("Eyes").info == ModelInfo(id="Eyes", provider="lab", vision=True)


async def test_the_fake_upstream_echoes_only_the_text_of_a_message_with_images(fake, openai_provider):
    fake.enqueue(Script(echo=True))
    chunks = [chunk async for chunk in openai_provider.stream("llava:13b", [LOOK], PARAMS)]
    assert "".join(chunk.text for chunk in chunks if isinstance(chunk, TextChunk)) == "What is in these?"
