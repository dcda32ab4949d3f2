"""Render requests and cache keys."""

from __future__ import annotations

import pytest

from shared.keys import KEY_VERSION, InvalidOptions, RenderRequest


def test_defaults_are_the_og_image_size() -> None:
    """Without options a request is a 1200x630 PNG at scale 1."""
    request = RenderRequest.build("https://example.com/")
    assert (request.width, request.height, request.scale, request.format) == (1200, 630, 1, "png")
    assert request.pixel_size == (1200, 630)


def test_key_is_versioned_fanned_out_and_deterministic() -> None:
    """The same request gives the same key; the key starts with the version and two levels."""
    key = RenderRequest.build("https://example.com/").cache_key()
    assert key == RenderRequest.build("https://example.com/").cache_key()
    version, a, b, name = key.split("/")
    assert version == KEY_VERSION
    assert name.startswith(a + b)
    assert name.endswith(".png")


@pytest.mark.parametrize(
    "options",
    [{"width": 1000}, {"height": 600}, {"scale": 2}, {"format": "jpg"}, {"format": "webp"}],
)
def test_every_option_changes_the_key(options: dict[str, object]) -> None:
    """Each option is part of the key."""
    base = RenderRequest.build("https://example.com/").cache_key()
    assert RenderRequest.build("https://example.com/", **options).cache_key() != base  # type: ignore[arg-type]


def test_jpg_and_jpeg_are_one_format() -> None:
    """.jpg and .jpeg name the same image."""
    a = RenderRequest.build("https://example.com/", format="jpg")
    b = RenderRequest.build("https://example.com/", format="JPEG")
    assert a.cache_key() == b.cache_key()
    assert a.content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"width": "199"}, "w must be"),
        ({"width": "2401"}, "w must be"),
        ({"height": "99"}, "h must be"),
        ({"height": "abc"}, "h must be"),
        ({"scale": "3"}, "scale must be"),
        ({"scale": "1.5"}, "scale must be"),
        ({"format": "gif"}, "format must be"),
    ],
)
def test_out_of_range_options_are_refused(options: dict[str, str], message: str) -> None:
    """Options outside their range raise InvalidOptions naming the option."""
    with pytest.raises(InvalidOptions, match=message):
        RenderRequest.build("https://example.com/", **options)  # type: ignore[arg-type]


def test_payload_round_trip() -> None:
    """A job payload rebuilds the same request."""
    request = RenderRequest.build("https://example.com/", width=800, scale=2, format="webp")
    assert RenderRequest.from_payload(request.to_payload()) == request
