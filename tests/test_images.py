"""Attached images: what is accepted, what is refused, and what the re-encoded image keeps (pixels, upright) and
drops (metadata). Every image is made here with Pillow."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from parley.core.files.images import ImageLimits, PillowImages, PreparedImage, estimate_image_tokens
from parley.errors import InvalidImage

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def photo(width: int = 640, height: int = 480, mode: str = "RGB") -> Image.Image:
    """An image with many colours (a gradient), as a photo has."""
    image = Image.linear_gradient("L").resize((width, height))
    if mode == "L":
        return image
    rgb = Image.merge("RGB", (image, image.transpose(Image.Transpose.ROTATE_90).resize((width, height)), image))
    return rgb.convert(mode)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "SpyCam"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)})
    return exif


def opened(result: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(result.data))
    image.load()
    return image


def process(data: bytes, **limits: int) -> PreparedImage:
    return PillowImages(ImageLimits(**limits)).process(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_each_accepted_format_is_re_encoded_with_its_size(fmt):
    result = process(encode(photo(320, 200).convert("P") if fmt == "GIF" else photo(320, 200), fmt))
    assert (result.width, result.height) == (320, 200)
    image = opened(result)
    assert image.size == (320, 200)
    assert result.media_type == f"image/{image.format.lower()}"
    assert image.format in ("PNG", "JPEG")


def test_a_photo_becomes_a_jpeg_and_a_drawing_or_transparency_a_png():
    assert process(encode(photo(), "PNG")).media_type == "image/jpeg"
    drawing = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(drawing).rectangle((50, 50, 200, 150), fill="red", outline="black")
    assert process(encode(drawing, "JPEG", quality=100)).media_type in ("image/png", "image/jpeg")
    assert process(encode(drawing, "PNG")).media_type == "image/png"
    transparent = photo(mode="RGBA")
    transparent.putalpha(Image.linear_gradient("L").resize(transparent.size))
    result = process(encode(transparent, "WEBP", lossless=True))
    assert result.media_type == "image/png"
    assert opened(result).mode == "RGBA"


def test_the_long_side_is_brought_down_keeping_the_shape():
    result = process(encode(photo(3000, 1000), "JPEG"), max_side=1024)
    assert (result.width, result.height) == (1024, 341)
    assert opened(result).size == (1024, 341)
    tall = process(encode(photo(100, 4000), "PNG"), max_side=2048)
    assert (tall.width, tall.height) == (51, 2048)


def test_exif_gps_and_every_other_metadata_are_stripped():
    original = encode(photo(), "JPEG", exif=exif_with_gps(), icc_profile=b"\0" * 128, comment=b"secret comment")
    assert b"SpyCam" in original and b"secret comment" in original  # the control: the original carries them
    result = process(original)
    image = opened(result)
    assert not image.getexif()
    assert "icc_profile" not in image.info and "exif" not in image.info and "comment" not in image.info
    assert b"SpyCam" not in result.data and b"secret comment" not in result.data
    assert b"Exif" not in result.data and b"http://ns.adobe.com/xap" not in result.data


def test_png_text_chunks_exif_and_icc_are_stripped():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 1 Secret Lane")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>gps</x:xmpmeta>")
    drawing = Image.new("RGBA", (64, 64), (255, 0, 0, 128))
    original = encode(drawing, "PNG", pnginfo=info, exif=exif_with_gps(), icc_profile=b"\0" * 128)
    assert b"Secret Lane" in original and b"SpyCam" in original
    result = process(original)
    assert result.media_type == "image/png"
    for marker in (b"Secret Lane", b"xmpmeta", b"SpyCam", b"eXIf", b"iCCP", b"tEXt", b"iTXt"):
        assert marker not in result.data


def test_the_exif_orientation_is_applied_before_it_is_dropped():
    # A 200 x 100 image whose left half is black, stored with "rotate 90 clockwise to view" (orientation 6).
    stored = Image.new("RGB", (200, 100), "white")
    ImageDraw.Draw(stored).rectangle((0, 0, 99, 99), fill="black")
    result = process(encode(stored, "JPEG", exif=exif_with_gps(orientation=6), quality=95))
    image = opened(result).convert("L")
    assert image.size == (100, 200)  # upright: taller than wide
    assert image.getpixel((50, 20)) < 60 and image.getpixel((50, 180)) > 200  # black on top after the turn
    assert ORIENTATION not in image.getexif()


def test_a_gif_gives_its_first_frame():
    frames = [Image.new("P", (40, 30), colour) for colour in (1, 2, 3)]
    for frame, rgb in zip(frames, ((255, 0, 0), (0, 255, 0), (0, 0, 255)), strict=True):
        frame.putpalette([0, 0, 0, *rgb] * 128)
    original = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = opened(process(original)).convert("RGB")
    assert image.getpixel((10, 10)) == (255, 0, 0)


def test_palette_transparency_survives_as_alpha():
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, 255, 255, 255] * 128)
    ImageDraw.Draw(image).rectangle((0, 0, 15, 31), fill=1)
    result = process(encode(image, "PNG", transparency=0))
    out = opened(result).convert("RGBA")
    assert out.getpixel((5, 5)) == (255, 255, 255, 255) and out.getpixel((25, 5))[3] == 0


def test_sixteen_bit_grey_keeps_its_levels():
    grey = Image.new("I;16", (32, 32), 40000)  # about 61% grey
    out = opened(process(encode(grey, "PNG"))).convert("L")
    assert 150 <= out.getpixel((5, 5)) <= 160


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels in a few bytes (its pixel data is a small zlib stream)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [10_000, 30_000, 100_000])
def test_a_decompression_bomb_is_refused_from_its_header(side):
    bomb = png_header_only(side, side)
    assert len(bomb) < 200
    with pytest.raises(InvalidImage, match="too large"):
        process(bomb)


def test_the_pixel_cap_is_checked_before_decoding():
    # 4,000 x 4,000 is under Pillow's own limit; our cap of 10 MP refuses it without decoding (the data is bogus).
    with pytest.raises(InvalidImage, match=r"4000 x 4000 pixels.*10 megapixels"):
        process(png_header_only(4000, 4000), max_pixels=10_000_000)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image"),
        (b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>", "not an image"),
        (b"%PDF-1.7\n1 0 obj", "not an image"),
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "damaged"),
    ],
)
def test_what_is_not_an_accepted_image_is_refused(data, reason):
    with pytest.raises(InvalidImage, match=reason):
        process(data)


def test_other_image_formats_are_refused():
    for fmt in ("BMP", "TIFF", "ICO"):
        with pytest.raises(InvalidImage, match="not an image"):
            process(encode(photo(64, 64), fmt))


def test_a_truncated_image_is_refused():
    whole = encode(photo(), "JPEG")
    with pytest.raises(InvalidImage, match="damaged"):
        process(whole[: len(whole) // 2])


def test_an_encoding_over_the_byte_cap_is_made_smaller():
    noise = Image.effect_noise((1024, 1024), 100).convert("RGB")
    result = process(encode(noise, "PNG"), max_bytes=200_000)
    assert len(result.data) <= 200_000
    assert result.width < 1024 and opened(result).size == (result.width, result.height)


def test_an_image_is_estimated_by_its_size_within_what_models_charge():
    assert estimate_image_tokens(32, 32) == 85
    assert estimate_image_tokens(512, 512) == 350
    assert estimate_image_tokens(2048, 1365) == 1600


async def test_prepare_gives_what_process_gives():
    data = encode(photo(), "PNG")
    processor = PillowImages()
    prepared = await processor.prepare(data, "image/png")
    assert prepared == processor.process(data)
    with pytest.raises(InvalidImage, match="not an image"):
        await processor.prepare(b"<svg/>", "image/png")  # the declared type is only a hint
