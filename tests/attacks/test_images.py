"""Images sent to the OpenAI-compatible endpoint under attack, on both paths: an image URL naming an address only
the server can reach (SSRF: refused, and nothing is requested), a decompression bomb, an SVG or HTML page posing as
an image, images for a model that cannot see, and a photo's GPS position (stripped before the model gets it)."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from parley.testing.fake_openai import FakeOpenAI
from tests.attacks.targets import UPSTREAM_KEY
from tests.test_images import GPS_IFD, encode, exif_with_gps, photo, png_header_only

VISION = "fake-vision"


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    """The suite's upstream, with a model that can see."""
    async with FakeOpenAI(api_key=UPSTREAM_KEY, models=("fake-model",), vision_models=(VISION,)) as fake:
        yield fake


async def _auth(target) -> dict[str, str]:
    alice = await target.player()
    response = await alice.http.post("/api/keys", json={"name": "vision"})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def _ask(url: str, model: str = VISION) -> dict:
    parts = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": model, "messages": [{"role": "user", "content": parts}]}


def _data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def _refused(response, code: str | None = None) -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if code is not None:
        assert error["code"] == code
    return error


async def test_an_image_url_is_never_fetched(target, ledger):
    auth = await _auth(target)
    # What a server-side request forgery would reach: a service on the server's own loopback, which records
    # every request it gets.
    async with FakeOpenAI() as internal:
        urls = [
            f"http://127.0.0.1:{internal.port}/v1/models",
            f"http://localhost:{internal.port}/admin.png",
            f"https://127.0.0.1:{internal.port}/cat.png",
            f"http://[::ffff:127.0.0.1]:{internal.port}/cat.png",
            f"//127.0.0.1:{internal.port}/cat.png",
            "file:///etc/passwd",
            f"ftp://127.0.0.1:{internal.port}/cat.png",
        ]
        async with target.client() as http:
            for url in urls:
                error = _refused(await http.post("/v1/chat/completions", json=_ask(url), headers=auth))
                assert "does not fetch image URLs" in error["message"]
                assert error["param"] == "messages[0].content[1].image_url"
                ledger.attempt(target.path, "image URL to fetch (SSRF)")
        assert internal.requests == []  # no request left the server
    assert target.upstream.chat_requests == []


async def test_images_that_are_not_images_or_too_big_to_decode_are_refused(target, ledger):
    auth = await _auth(target)
    bodies = {
        "svg with a script": _data_url(
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"
        ),
        "html posing as png": _data_url(b"<!DOCTYPE html><img src=x onerror=alert(1)>", "image/png"),
        "svg posing as jpeg": _data_url(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "image/jpeg"
        ),
        "decompression bomb (30000 x 30000 in 100 bytes)": _data_url(png_header_only(30_000, 30_000), "image/png"),
        "decompression bomb under Pillow's cap": _data_url(png_header_only(8_000, 8_000), "image/png"),
        "truncated jpeg": _data_url(encode(photo(), "JPEG")[:2000], "image/jpeg"),
    }
    async with target.client() as http:
        for name, url in bodies.items():
            error = _refused(await http.post("/v1/chat/completions", json=_ask(url), headers=auth))
            assert error["param"] == "messages[0].content", name
            ledger.attempt(target.path, f"bad image: {name}")
    assert target.upstream.chat_requests == []


async def test_images_for_a_model_that_cannot_see_reach_no_model(target, ledger):
    auth = await _auth(target)
    async with target.client() as http:
        url = _data_url(encode(photo(64, 64), "PNG"), "image/png")
        error = _refused(await http.post("/v1/chat/completions", json=_ask(url, "fake-model"), headers=auth))
        assert error["code"] == "model_cannot_see" and VISION in error["message"]
        ledger.attempt(target.path, "image for a model that cannot see")
    assert target.upstream.chat_requests == []


async def test_a_photos_gps_position_never_reaches_the_model(target, ledger):
    auth = await _auth(target)
    original = encode(photo(800, 600), "JPEG", exif=exif_with_gps(), comment=b"Alice's home")
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the control: the original has a position
    async with target.client() as http:
        response = await http.post("/v1/chat/completions", json=_ask(_data_url(original, "image/jpeg")), headers=auth)
        assert response.status_code == 200, response.text
        ledger.attempt(target.path, "photo with a GPS position")
    [image] = target.upstream.chat_requests[-1].images
    assert image.media_type == "image/jpeg"
    received = Image.open(io.BytesIO(image.data))
    assert received.size == (800, 600)
    assert not received.getexif() and not received.getexif().get_ifd(GPS_IFD)
    assert b"SpyCam" not in image.data and b"Alice's home" not in image.data and b"Exif" not in image.data
