"""Render requests and cache keys."""

from __future__ import annotations

import pytest

from shared.keys import KEY_VERSION, InvalidOptions, RenderRequest


def test_defaults_are_the_og_image_size() -> None:
    """Without options a request is a 1200x630 PNG at scale 1."""
    request = RenderRequest.build("https://example.com/")
    options = request.options
    assert (options.width, options.height, options.scale, options.format) == (1200, 630, 1, "png")
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
    [
        {"width": 1000}, {"height": 600}, {"scale": 2}, {"format": "jpg"}, {"format": "webp"},
        {"wait_for": "#board tr"}, {"delay": 500}, {"hide": [".chat"]}, {"selector": "#card"},
        {"dark": "1"},
    ],
)  # fmt: skip
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
    with_options = RenderRequest.build(
        "https://example.com/", hide=[".chat,.promo", ":is(a, b)"], selector="#card", dark=True,
        wait_for='[title="a,b"]', delay="250",
    )  # fmt: skip
    assert RenderRequest.from_payload(with_options.to_payload()) == with_options


def test_keys_and_signatures_without_render_options_are_unchanged() -> None:
    """An image URL without the render options keeps the key and signature it had before
    they existed (pinned from the release before), so no stored image or signed URL breaks."""
    from ogshot_client.signing import sign

    request = RenderRequest.build("https://example.com/board/42", width=800, format="jpg")
    assert request.cache_key() == (
        "v1/9c/5b/9c5bf4eb0ef180bdaf64924eafc540004779f876143716fef826669456e7a76e.jpg"
    )
    assert sign("k", request.url, request) == "K79iuQR3FSuHV2JWxOmjsp6WH684W0pYI-Gyt4qPb7c"


def test_hide_values_are_selector_lists_never_split() -> None:
    """A hide value is one selector list: commas inside :is() or an attribute stay."""
    request = RenderRequest.build(
        "https://example.com/", hide=[":is(.a, .b)", '[title="a,b"]', ".chat,.promo"]
    )
    assert request.options.hide == (":is(.a, .b)", '[title="a,b"]', ".chat,.promo")
    assert request.options.render_options() == {"hide": list(request.options.hide)}
