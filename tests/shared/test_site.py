"""The helper sites use to build og:image URLs, and its Jinja filter."""

from __future__ import annotations

from urllib.parse import unquote_plus

from flask import Flask, render_template_string

from shared.site import init_app, og_image_url


def test_builds_the_encoded_image_url() -> None:
    """The page URL is quote_plus-encoded into the path, with the format's extension."""
    url = og_image_url("https://ogshot.example/", "https://example.com/board/42?x=a b")
    assert (
        url == "https://ogshot.example/image/https%3A%2F%2Fexample.com%2Fboard%2F42%3Fx%3Da+b.png"
    )
    encoded = url.split("/image/", 1)[1].rsplit(".", 1)[0]
    assert unquote_plus(encoded) == "https://example.com/board/42?x=a b"


def test_options_become_query_parameters() -> None:
    """Only the options given are added; jpeg is written .jpg."""
    url = og_image_url(
        "https://o.example", "https://example.com/", width=800, scale=2, format="jpeg"
    )
    assert url == "https://o.example/image/https%3A%2F%2Fexample.com%2F.jpg?w=800&scale=2"


def test_jinja_filter_in_a_flask_app() -> None:
    """init_app registers `og_image`, usable on request.url in a template."""
    app = Flask(__name__)
    init_app(app, "https://ogshot.example")
    with app.test_request_context("https://example.com/board/42"):
        html = render_template_string(
            '<meta property="og:image" content="{{ request.url | og_image }}">'
        )
    assert html == (
        '<meta property="og:image" content="https://ogshot.example/image/'
        'https%3A%2F%2Fexample.com%2Fboard%2F42.png">'
    )
