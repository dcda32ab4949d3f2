"""Helpers for sites that use ogshot: build og:image URLs, in Python or in Jinja templates.

    from shared.site import og_image_url
    og_image_url("https://ogshot.example", "https://example.com/board/42")
    # -> "https://ogshot.example/image/https%3A%2F%2Fexample.com%2Fboard%2F42.png"

In Flask: ``init_app(app, "https://ogshot.example")``, then in a template
``<meta property="og:image" content="{{ request.url | og_image }}">``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus, urlencode

from shared.keys import EXTENSIONS, FORMATS


def og_image_url(
    base_url: str,
    page_url: str,
    *,
    width: int | None = None,
    height: int | None = None,
    scale: int | None = None,
    format: str = "png",  # noqa: A002 - the public option is called "format"
) -> str:
    """Return the ogshot image URL for ``page_url`` (options left out stay at their defaults)."""
    ext = EXTENSIONS[FORMATS[format.lower()]]
    options = {"w": width, "h": height, "scale": scale}
    query = urlencode({k: v for k, v in options.items() if v is not None})
    url = f"{base_url.rstrip('/')}/image/{quote_plus(page_url)}.{ext}"
    return f"{url}?{query}" if query else url


def init_app(app: Any, base_url: str) -> None:
    """Register the ``og_image`` Jinja filter on a Flask app."""

    def og_image(page_url: str, **options: Any) -> str:
        return og_image_url(base_url, page_url, **options)

    app.jinja_env.filters["og_image"] = og_image
