"""Images a user attaches: read safely, then re-encoded to what a model (and the browser) is given.

``PillowImages.process(data)`` accepts PNG, JPEG, WebP and GIF (its first frame), and nothing else whatever the name
or the declared type says: an SVG, an HTML page or a TIFF is refused. It is CPU work (tens to hundreds of
milliseconds for a photo): a sync function to run off the event loop. ``prepare`` (the ``ImageProcessor`` the files
service and the OpenAI-compatible API are given) runs it in a worker thread.

What it guards against and drops:
- decompression bombs: the pixel count in the header is checked against ``ImageLimits.max_pixels`` before a single
  pixel is decoded (Pillow's own ``MAX_IMAGE_PIXELS`` check, at open, is a second line);
- metadata: the output is a fresh encoding with no EXIF (GPS), XMP, ICC profile, comments or text chunks; the EXIF
  orientation is applied to the pixels first, so a phone photo stays upright;
- size: the long side is brought down to ``max_side`` and the encoding kept under ``max_bytes`` (what Bedrock's
  Converse API accepts per image), so every model and the history view get the same, modest image.

Images with transparency or few colours (screenshots, diagrams) become PNG; photos become JPEG.
"""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from parley.errors import InvalidImage

if TYPE_CHECKING:
    from PIL import Image

ACCEPTED_FORMATS: Final = ("PNG", "JPEG", "WEBP", "GIF")
# What a model is charged for one image, at most, as Parley sends them (Claude: pixels / 750 after its own
# downscale, about 1,600; OpenAI: 85 + 170 per 512 px tile, up to about 1,450).
MAX_IMAGE_TOKENS: Final = 1_600
MIN_IMAGE_TOKENS: Final = 85

_FEW_COLOURS: Final = 256  # at most this many distinct colours: a drawing, kept lossless
_MIN_SIDE: Final = 256  # re-encoding never shrinks an image below this to meet max_bytes


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = 50_000_000  # of the original (e.g. 8660 x 5773); decoding more would take too much memory
    max_side: int = 2048  # of the re-encoded image
    max_bytes: int = 3_750_000  # of the re-encoded image (Bedrock's per-image cap)
    jpeg_quality: int = 85


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    media_type: str  # image/png, image/jpeg or image/webp
    width: int
    height: int


def estimate_image_tokens(width: int, height: int) -> int:
    """About what a model charges for an image of this size (Claude's pixels / 750, within what OpenAI charges),
    for context and budget estimates."""
    return max(MIN_IMAGE_TOKENS, min(MAX_IMAGE_TOKENS, -(-width * height // 750)))


class ImageProcessor(Protocol):
    async def prepare(self, data: bytes, media_type: str = "") -> PreparedImage:
        """The image to keep and send, made from ``data`` (``media_type``: what it was sniffed or declared as, a hint
        only). Raises ``InvalidImage`` with a reason a person can act on (not an image after all, too many pixels)."""


class PillowImages:
    def __init__(self, limits: ImageLimits = ImageLimits(), *, concurrency: int = 2) -> None:
        self.limits = limits
        # A decoded image may take a few hundred MB (max_pixels x 4 bytes): only so many are decoded at once.
        self._slots = threading.BoundedSemaphore(concurrency)

    async def prepare(self, data: bytes, media_type: str = "") -> PreparedImage:
        """``process`` in a worker thread. The type is found from the bytes, whatever ``media_type`` says."""
        return await asyncio.to_thread(self.process, data)

    def process(self, data: bytes) -> PreparedImage:
        """Check, decode, orient, downscale and re-encode ``data``. Blocking: call through ``asyncio.to_thread``."""
        if not data:
            raise InvalidImage("The image is empty.")
        with self._slots:
            return self._process(data)

    def _process(self, data: bytes) -> PreparedImage:
        # Pillow is loaded by the first image, not by every process that may receive one (a Lambda cold start).
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as source:
                self._check_size(source)
                image = self._decode(source)
        except InvalidImage:
            raise
        except UnidentifiedImageError:
            raise InvalidImage(
                "The image is damaged and cannot be read."
                if _looks_like_an_image(data)
                else "This is not an image Parley can read: send a PNG, JPEG, WebP or GIF image."
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own check, at open. Its warning is raised only where warnings are errors (the tests);
            # elsewhere Pillow warns, and _check_size (a lower cap than Pillow's) refuses the image.
            raise InvalidImage("The image is too large to read safely.") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            # Pillow's decoders report broken data as any of these (SyntaxError from some plugins' header parsers).
            raise InvalidImage("The image is damaged or cut short and cannot be read.") from exc
        return self._encode(image)

    def _check_size(self, source: Image.Image) -> None:
        width, height = source.size
        if width < 1 or height < 1:
            raise InvalidImage("The image has no pixels.")
        if width * height > self.limits.max_pixels:
            raise InvalidImage(
                f"The image is too large ({width} x {height} pixels); "
                f"at most {self.limits.max_pixels // 1_000_000} megapixels are accepted."
            )

    def _decode(self, source: Image.Image) -> Image.Image:
        """The first frame's pixels, upright, in RGB(A) or L(A), at most ``max_side`` on its long side."""
        from PIL import Image, ImageOps

        side = self.limits.max_side
        if source.format == "JPEG":
            source.draft("RGB", (side, side))  # a big JPEG decodes at 1/2, 1/4 or 1/8 scale, never below the target
        source.load()
        image = ImageOps.exif_transpose(source) or source
        image = _normalized_mode(image)
        if max(image.size) > side:
            # thumbnail resamples RGBA premultiplied, so transparent pixels do not bleed colour into the edges.
            image.thumbnail((side, side), Image.Resampling.LANCZOS)
        return image

    def _encode(self, image: Image.Image) -> PreparedImage:
        from PIL import Image

        lossless = _has_alpha(image) or image.getcolors(_FEW_COLOURS) is not None
        while True:
            for fmt in ("PNG", "WEBP") if lossless else ("JPEG",):
                encoded = _save(image, fmt, self.limits.jpeg_quality)
                if len(encoded) <= self.limits.max_bytes:
                    width, height = image.size
                    return PreparedImage(encoded, f"image/{fmt.lower()}", width, height)
            if max(image.size) <= _MIN_SIDE:
                raise InvalidImage("The image cannot be made small enough to send to a model.")
            image = image.resize(
                (max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)), Image.Resampling.LANCZOS
            )


def _normalized_mode(image: Image.Image) -> Image.Image:
    """One of L, LA, RGB, RGBA; palette transparency becomes an alpha channel, 16-bit grey is scaled to 8 bits."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if image.mode in ("P", "PA") and ("transparency" in image.info or image.mode == "PA"):
        return image.convert("RGBA")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")


def _has_alpha(image: Image.Image) -> bool:
    if image.mode not in ("LA", "RGBA"):
        return False
    low = image.getchannel("A").getextrema()[0]  # one band: (lowest, highest)
    return isinstance(low, int | float) and low < 255  # an alpha channel opaque everywhere is no transparency


def _save(image: Image.Image, fmt: str, quality: int) -> bytes:
    """A fresh encoding: no ``exif``, ``icc_profile``, ``pnginfo`` or comment is passed, and ``info`` (where PNG
    would look for an ICC profile) is emptied, so nothing of the original's metadata is written."""
    image.info = {}
    out = io.BytesIO()
    if fmt == "JPEG":
        rgb = image if image.mode in ("L", "RGB") else image.convert("RGB")
        rgb.save(out, "JPEG", quality=quality, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=quality, method=4)
    else:
        image.save(out, "PNG", compress_level=6)
    return out.getvalue()


def _looks_like_an_image(data: bytes) -> bool:
    """Whether ``data`` starts like one of the accepted formats (only to choose the refusal's wording)."""
    head = data[:12]
    return head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    )
