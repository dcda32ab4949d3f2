"""Pillow: check and encode screenshots, and draw the fallback image."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont, UnidentifiedImageError

from shared.keys import CONTENT_TYPES

FALLBACK_SIZE = (1200, 630)
# For PNGs ogshot draws itself (the fallback): level 1 is ~4x faster than the default 6 for
# ~60% more bytes, still far below every crawler's limit (5-8 MB). Screenshots wanted as PNG
# keep the browser's own encoding.
PNG_COMPRESS_LEVEL = 1
JPEG_QUALITY = 85
WEBP_QUALITY = 80


class ImagingError(ValueError):
    """The screenshot is not an image of the expected size."""


def encode_screenshot(png: bytes, fmt: str, size: tuple[int, int] | None) -> bytes:
    """Check that ``png`` is a ``size`` image (None: any size) and encode it as ``fmt``.

    A PNG wanted as PNG is kept as the browser encoded it, once checked (size from the
    header, chunk checksums by ``verify``): decoding and encoding it again cost ~15 ms of
    every miss for no better image.
    """
    try:
        image = Image.open(io.BytesIO(png))
        if size is not None and image.size != size:
            raise ImagingError(
                f"screenshot is {image.size[0]}x{image.size[1]}, expected {size[0]}x{size[1]}"
            )
        if fmt == "png" and image.format == "PNG":
            image.verify()
            return png
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImagingError(f"screenshot is not a readable image: {exc}") from exc
    return encode(image, fmt)


def encode(image: Image.Image, fmt: str) -> bytes:
    """Encode a Pillow image as png, jpeg or webp."""
    out = io.BytesIO()
    if fmt == "png":
        image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif fmt == "jpeg":
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=False)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=0)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return out.getvalue()


# Blank: at least BLANK_SHARE of the pixels within BLANK_TOLERANCE (on every channel, of 255)
# of the image's most common colour. A white page with only a spinner (~0.1% of 1200x630)
# and a 1 px border (~0.5%) is blank; three lines of 16 px text (~1.4%) are not, nor is a
# page with anything larger. About 10 ms a render (decoding the PNG is half of it).
BLANK_SHARE = 0.99
BLANK_TOLERANCE = 16


def blank_share(png: bytes) -> float:
    """Return the share of the image's pixels that are (nearly) its most common colour."""
    try:
        with Image.open(io.BytesIO(png)) as opened:
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImagingError(f"screenshot is not a readable image: {exc}") from exc
    # The most common colour, from a sample of one pixel in 64: counting all is ~4x slower.
    size = (max(1, image.width // 8), max(1, image.height // 8))
    sample = image.resize(size, Image.Resampling.NEAREST)
    colours: list[tuple[int, tuple[int, int, int]]] = sample.getcolors(
        sample.width * sample.height
    ) or [(0, (0, 0, 0))]  # type: ignore[assignment]
    dominant = max(colours)[1]
    red, green, blue = ImageChops.difference(image, Image.new("RGB", image.size, dominant)).split()
    furthest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    near = sum(furthest.histogram()[: BLANK_TOLERANCE + 1])
    return near / (image.width * image.height)


THUMBNAIL_WIDTH = 480


def thumbnail(data: bytes) -> bytes:
    """Return a small WebP of an encoded image, for lists that must not load full images."""
    with Image.open(io.BytesIO(data)) as image:
        small = image.convert("RGB")
        small.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * 4))
    out = io.BytesIO()
    small.save(out, "WEBP", quality=70, method=0)
    return out.getvalue()


# The fallback's second line: while a render is pending, and after one failed.
ON_ITS_WAY = "preview on its way"
UNAVAILABLE = "preview unavailable"


@functools.lru_cache(maxsize=512)
def fallback_image(host: str, fmt: str, line: str = ON_ITS_WAY) -> bytes:
    """Draw the 1200x630 placeholder that names the page's host over ``line``."""
    width, height = FALLBACK_SIZE
    image = Image.new("RGB", FALLBACK_SIZE, (24, 28, 38))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height - 12, width, height), fill=(88, 101, 242))
    title = host if len(host) <= 40 else host[:39] + "…"
    big = ImageFont.load_default(size=72)
    small = ImageFont.load_default(size=32)
    draw.text((width / 2, height / 2 - 20), title, font=big, fill=(240, 242, 248), anchor="mm")
    draw.text(
        (width / 2, height / 2 + 60),
        line,
        font=small,
        fill=(150, 158, 176),
        anchor="mm",
    )
    return encode(image, fmt)


def load_fallback_file(path: Path) -> tuple[bytes, str]:
    """Read an operator's fallback image; return its bytes and MIME type."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = (image.format or "").lower()
    except (UnidentifiedImageError, OSError) as exc:
        raise ImagingError(f"{path} is not an image: {exc}") from exc
    content_type = CONTENT_TYPES.get(kind) or f"image/{kind}"
    return data, content_type
