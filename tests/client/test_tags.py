"""The site helper's image URLs, meta tags and Jinja filters."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from urllib.parse import unquote_plus

import ogshot_client
import pytest
from flask import Flask, render_template_string
from ogshot_client import InvalidOptions, init_app, og_image_url, og_tags, verify

from shared.keys import RenderRequest


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
    with app.test_request_context("https://example.com/board/42"):
        versioned = render_template_string("{{ request.url | og_tags(version='r7') }}")
    assert versioned.count("42.png?v=r7") == 2


def test_tags_carry_the_image_its_size_and_type() -> None:
    """og_tags writes og:image with its pixel size and type, and the Twitter card tags."""
    tags = og_tags("https://o.example", "https://example.com/a?b=1&c=2", width=800, scale=2,
                   format="jpg", alt='Score: "3<1"')  # fmt: skip
    image = "https://o.example/image/https%3A%2F%2Fexample.com%2Fa%3Fb%3D1%26c%3D2.jpg?w=800&amp;scale=2"
    assert str(tags).splitlines() == [
        f'<meta property="og:image" content="{image}">',
        '<meta property="og:image:width" content="1600">',
        '<meta property="og:image:height" content="1260">',
        '<meta property="og:image:type" content="image/jpeg">',
        '<meta property="og:image:alt" content="Score: &quot;3&lt;1&quot;">',
        '<meta name="twitter:card" content="summary_large_image">',
        f'<meta name="twitter:image" content="{image}">',
        '<meta name="twitter:image:alt" content="Score: &quot;3&lt;1&quot;">',
    ]


def test_tags_filter_is_not_escaped_twice() -> None:
    """`{{ request.url | og_tags }}` inserts the tags as markup, signed with the app's key."""
    app = Flask(__name__)
    init_app(app, "https://ogshot.example", signing_key="k")
    with app.test_request_context("https://example.com/board/42"):
        html = render_template_string("{{ request.url | og_tags }}")
    expected = og_tags("https://ogshot.example", "https://example.com/board/42", signing_key="k")
    assert html == str(expected)
    assert html.startswith('<meta property="og:image" content="https://ogshot.example/image/')
    assert "?s=" in html


def test_options_the_service_refuses_are_refused_here() -> None:
    """A width out of range or an unknown format raises InvalidOptions before any URL."""
    with pytest.raises(InvalidOptions, match="w must be"):
        og_image_url("https://o.example", "https://example.com/", width=5000)
    with pytest.raises(InvalidOptions, match="format"):
        og_tags("https://o.example", "https://example.com/", format="gif")


def test_the_helper_imports_only_the_standard_library() -> None:
    """Every module of ogshot_client imports the standard library or ogshot_client alone."""
    root = Path(ogshot_client.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("ogshot_client", "__future__"), (
                    f"{path.name} imports {name}"
                )


def test_render_options_in_urls_tags_and_signatures() -> None:
    """Render options become query parameters (hide repeated, never split), are signed, and
    an element capture's tags leave out the size, which is not known in advance."""
    url = og_image_url(
        "https://o.example", "https://example.com/", hide=[".chat,.promo", ":is(a, b)"],
        selector="#share-card", dark=True, delay=500, wait_for="#board tr", signing_key="k",
    )  # fmt: skip
    query = url.split("?", 1)[1]
    assert query.startswith(
        "wait_for=%23board+tr&delay=500&hide=.chat%2C.promo&hide=%3Ais%28a%2C+b%29"
        "&selector=%23share-card&dark=1&s="
    )
    served = RenderRequest.build(
        "https://example.com/", hide=[".chat,.promo", ":is(a, b)"], selector="#share-card",
        dark="1", delay="500", wait_for="#board tr",
    )  # fmt: skip
    assert verify(("k",), query.rsplit("s=", 1)[1], "https://example.com/", served)
    other = RenderRequest.build("https://example.com/", hide=[".chat"], selector="#share-card",
                                dark="1", delay="500", wait_for="#board tr")  # fmt: skip
    assert not verify(("k",), query.rsplit("s=", 1)[1], "https://example.com/", other)
    tags = og_tags("https://o.example", "https://example.com/", selector="#share-card")
    assert "og:image:width" not in tags
    assert "og:image:type" in tags
    assert "og:image:width" in og_tags("https://o.example", "https://example.com/", dark=True)
