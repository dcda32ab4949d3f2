"""Imaging: size checks, encoders, the fallback image."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from shared.imaging import (
    BLANK_SHARE,
    UNAVAILABLE,
    ImagingError,
    blank_share,
    encode_screenshot,
    fallback_image,
    load_fallback_file,
)
from tests.helpers import close_to


def png_of(size: tuple[int, int], colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """Make a PNG screenshot stand-in."""
    out = io.BytesIO()
    Image.new("RGBA", size, (*colour, 255)).save(out, "PNG")
    return out.getvalue()


FORMATS = [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")]


@pytest.mark.parametrize(("fmt", "pil_format"), FORMATS)
def test_encodes_each_format_at_the_checked_size(fmt: str, pil_format: str) -> None:
    """The output is the requested format at the screenshot's size, colours kept."""
    data = encode_screenshot(png_of((1200, 630)), fmt, (1200, 630))
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == (pil_format, (1200, 630))
    assert close_to(image.convert("RGB").getpixel((600, 315)), (255, 0, 0))


def test_wrong_size_is_refused() -> None:
    """A screenshot of another size is an error, never a silently wrong image."""
    with pytest.raises(ImagingError, match="1200x544"):
        encode_screenshot(png_of((1200, 544)), "png", (1200, 630))


def test_a_png_is_kept_as_the_browser_encoded_it() -> None:
    """PNG to PNG is not encoded again: the same bytes come back."""
    png = png_of((1200, 630))
    assert encode_screenshot(png, "png", (1200, 630)) is png


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_a_damaged_png_is_refused(fmt: str) -> None:
    """A screenshot with a broken chunk checksum or cut short is an ImagingError."""
    png = bytearray(png_of((1200, 630)))
    idat = png.index(b"IDAT")
    png[idat + 8] ^= 0xFF  # a data byte: the chunk's CRC no longer matches
    with pytest.raises(ImagingError):
        encode_screenshot(bytes(png), fmt, (1200, 630))
    with pytest.raises(ImagingError):
        encode_screenshot(png_of((1200, 630))[:-40], fmt, (1200, 630))


def test_garbage_is_refused() -> None:
    """Bytes that are not an image are an ImagingError."""
    with pytest.raises(ImagingError):
        encode_screenshot(b"<html>", "png", (1200, 630))


def test_fallback_is_a_1200x630_image_in_the_requested_format() -> None:
    """The drawn fallback has the og:image size and differs per host."""
    for fmt, pil_format in FORMATS:
        image = Image.open(io.BytesIO(fallback_image("example.com", fmt)))
        assert (image.format, image.size) == (pil_format, (1200, 630))
    assert fallback_image("a.example", "png") != fallback_image("b.example", "png")
    assert fallback_image("a.example", "png") != fallback_image("a.example", "png", UNAVAILABLE)


def png_drawn(draw: Callable[[ImageDraw.ImageDraw], None], background: str = "white") -> bytes:
    """A 1200x630 PNG of ``background`` with what ``draw`` draws on it."""
    image = Image.new("RGB", (1200, 630), background)
    draw(ImageDraw.Draw(image))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_spinner_and_a_thin_border_are_blank() -> None:
    """Only a spinner and a 1 px border on one colour: blank; noise within the tolerance too."""

    def spinner_and_border(draw: ImageDraw.ImageDraw) -> None:
        draw.rectangle((0, 0, 1199, 629), outline="#999")
        draw.ellipse((580, 295, 620, 335), outline="#3b82f6", width=4)

    assert blank_share(png_drawn(spinner_and_border)) >= BLANK_SHARE
    assert blank_share(png_drawn(lambda d: None, "#0b3d91")) == 1.0
    off_white = png_drawn(lambda d: d.rectangle((0, 0, 599, 629), fill="#f4f4f4"))
    assert blank_share(off_white) == 1.0


def test_text_and_colour_are_not_blank() -> None:
    """Three lines of 16 px text, a coloured header, half and half: not blank."""
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 16)
    line = "The home side led at the break and held on through a long second half."

    def text(draw: ImageDraw.ImageDraw) -> None:
        for row in range(3):
            draw.text((20, 20 + row * 24), line, font=font, fill="black")

    assert blank_share(png_drawn(text)) < BLANK_SHARE
    assert blank_share(png_drawn(lambda d: d.rectangle((0, 0, 1199, 80), fill="#0b3d91"))) < 0.9
    assert blank_share(png_drawn(lambda d: d.rectangle((0, 0, 599, 629), fill="black"))) == 0.5


def test_blank_share_refuses_garbage() -> None:
    """Bytes that are not an image are an ImagingError."""
    with pytest.raises(ImagingError):
        blank_share(b"<html>")


def test_operator_fallback_file(tmp_path: Path) -> None:
    """An operator's fallback file is read with its MIME type; a non-image is refused."""
    path = tmp_path / "fallback.jpg"
    Image.new("RGB", (1200, 630)).save(path, "JPEG")
    data, content_type = load_fallback_file(path)
    assert content_type == "image/jpeg"
    assert data == path.read_bytes()
    (tmp_path / "x.png").write_text("nope")
    with pytest.raises(ImagingError):
        load_fallback_file(tmp_path / "x.png")
