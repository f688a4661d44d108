"""Images on ``/v1/chat/completions``: OpenAI ``image_url`` parts with data URLs are checked and re-encoded (metadata
stripped) before a model that can see gets them; everything else is refused with OpenAI's error shape before any
model runs. ``/api/models`` tells the web app which models can see."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import openai
import pytest
from PIL import Image

from parley.config import Settings
from parley.testing.mock_provider import MockProvider
from tests.test_images import encode, exif_with_gps, photo, png_header_only

VISION = "mock-vision"
MAX_COMPLETION_BYTES = 2_000_000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, max_completion_bytes=MAX_COMPLETION_BYTES)


@pytest.fixture
def provider() -> MockProvider:
    return MockProvider(vision_models=(VISION,))


@pytest.fixture
async def auth(client, alice) -> dict[str, str]:
    response = await client.post("/api/keys", json={"name": "script"}, headers=alice.headers)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def data_url(data: bytes, media_type: str = "image/jpeg") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def ask(*urls: str, model: str = VISION, text: str = "What is this?") -> dict:
    parts = [{"type": "text", "text": text}, *({"type": "image_url", "image_url": {"url": url}} for url in urls)]
    return {"model": model, "messages": [{"role": "user", "content": parts}]}


def refused(response, param_start: str = "messages") -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert (error["param"] or "messages").startswith(param_start)
    return error


async def test_models_say_which_can_see(client, alice):
    models = (await client.get("/api/models", headers=alice.headers)).json()["models"]
    assert [(m["id"], m["vision"]) for m in models] == [("mock-model", False), (VISION, True)]


async def test_an_image_reaches_a_vision_model_re_encoded_without_its_metadata(live_server, auth, provider):
    original = encode(photo(3000, 2000), "JPEG", exif=exif_with_gps(), comment=b"taken at home")
    assert b"SpyCam" in original
    sdk = openai.AsyncOpenAI(
        base_url=f"{live_server.base_url}/v1", api_key=auth["Authorization"][7:], max_retries=0, timeout=10
    )
    try:
        completion = await sdk.chat.completions.create(
            model=VISION,
            messages=[
                {"role": "system", "content": "Describe."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": data_url(original), "detail": "high"}},
                    ],
                },
            ],
        )
    finally:
        await sdk.close()
    assert completion.choices[0].message.content == "Hello there!"
    [system, user] = provider.history[-1].messages
    assert (system.content, system.images) == ("Describe.", ())
    assert user.content == "What is this?"
    [image] = user.images
    assert image.media_type == "image/jpeg"
    received = Image.open(io.BytesIO(image.data))
    assert received.size == (2048, 1365)  # downscaled
    assert not received.getexif() and b"SpyCam" not in image.data and b"taken at home" not in image.data


async def test_images_to_a_model_that_cannot_see_are_refused_naming_one_that_can(client, auth, provider):
    response = await client.post("/v1/chat/completions", json=ask(data_url(encode(photo(), "PNG"))), headers=auth)
    assert response.status_code == 200  # the control
    calls = len(provider.history)
    response = await client.post(
        "/v1/chat/completions", json=ask(data_url(encode(photo(), "PNG")), model="mock-model"), headers=auth
    )
    error = refused(response)
    assert error["code"] == "model_cannot_see"
    assert "mock-model cannot see images" in error["message"] and VISION in error["message"]
    assert len(provider.history) == calls


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/cat.png", "does not fetch image URLs"),
        ("https://example.com/cat.png", "does not fetch image URLs"),
        ("HTTPS://example.com/cat.png", "does not fetch image URLs"),
        ("file:///etc/passwd", "does not fetch image URLs"),
        ("//example.com/cat.png", "does not fetch image URLs"),
        ("data:image/png,rawbytes", "must be base64"),
        ("data:image/png;base64,not*base64!", "not hold valid base64"),
        ("data:image/png;base64,", "empty"),
    ],
)
async def test_image_urls_other_than_base64_data_are_refused(client, auth, provider, url, reason):
    error = refused(await client.post("/v1/chat/completions", json=ask(url), headers=auth), "messages[0].content[1]")
    assert reason in error["message"]
    assert provider.history == []


async def test_what_is_not_a_usable_image_is_refused(client, auth, provider):
    bodies = {
        "svg": data_url(b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        "html posing as png": data_url(b"<html><script>alert(1)</script></html>", "image/png"),
        "bomb": data_url(png_header_only(30_000, 30_000), "image/png"),
    }
    for name, url in bodies.items():
        error = refused(await client.post("/v1/chat/completions", json=ask(url), headers=auth), "messages[0].content")
        assert "not an image" in error["message"] or "too large" in error["message"], name
    assert provider.history == []


async def test_images_only_in_user_messages_and_at_most_ten(client, auth, provider):
    small = data_url(encode(photo(32, 32), "PNG"), "image/png")
    system_image = {
        "model": VISION,
        "messages": [
            {"role": "system", "content": [{"type": "image_url", "image_url": {"url": small}}]},
            {"role": "user", "content": "hi"},
        ],
    }
    error = refused(await client.post("/v1/chat/completions", json=system_image, headers=auth))
    assert "only be sent in user messages" in error["message"]
    error = refused(await client.post("/v1/chat/completions", json=ask(*[small] * 11), headers=auth))
    assert "At most 10 images" in error["message"]
    audio = {"model": VISION, "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}
    refused(await client.post("/v1/chat/completions", json=audio, headers=auth))
    assert provider.history == []
    response = await client.post("/v1/chat/completions", json=ask(*[small] * 10), headers=auth)
    assert response.status_code == 200 and len(provider.history[-1].messages[0].images) == 10


async def test_a_bare_url_string_is_taken_as_some_clients_send_it(client, auth, provider):
    body = {
        "model": VISION,
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": data_url(encode(photo(), "PNG"))}]}
        ],
    }
    assert (await client.post("/v1/chat/completions", json=body, headers=auth)).status_code == 200
    assert provider.history[-1].messages[0].images[0].media_type == "image/jpeg"


async def test_a_completion_body_may_be_larger_than_other_bodies_up_to_its_own_cap(client, auth, settings):
    body = ask(data_url(b"\xff\xd8\xff" + b"x" * 220_000))
    assert settings.max_body_bytes < len(str(body))  # the control: this body would be refused on any other route
    response = await client.post("/v1/chat/completions", json=body, headers=auth)
    assert response.status_code == 400 and "damaged" in response.json()["error"]["message"]  # read, then refused
    huge = ask(data_url(b"x" * MAX_COMPLETION_BYTES))
    response = await client.post("/v1/chat/completions", json=huge, headers=auth)
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
