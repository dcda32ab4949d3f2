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

from shared.keys import EXTENSIONS, FORMATS, RenderRequest
from shared.signing import sign


def og_image_url(
    base_url: str,
    page_url: str,
    *,
    width: int | None = None,
    height: int | None = None,
    scale: int | None = None,
    format: str = "png",  # noqa: A002 - the public option is called "format"
    signing_key: str | None = None,
) -> str:
    """Return the ogshot image URL for ``page_url`` (options left out stay at their defaults).

    With ``signing_key`` (the first of the server's OGSHOT_SIGNING_KEYS) the URL is signed.
    """
    ext = EXTENSIONS[FORMATS[format.lower()]]
    options: dict[str, object] = {"w": width, "h": height, "scale": scale}
    if signing_key:
        request = RenderRequest.build(
            page_url, width=width, height=height, scale=scale, format=format
        )
        options["s"] = sign(signing_key, page_url, request)
    query = urlencode({k: v for k, v in options.items() if v is not None})
    url = f"{base_url.rstrip('/')}/image/{quote_plus(page_url)}.{ext}"
    return f"{url}?{query}" if query else url


def init_app(app: Any, base_url: str, signing_key: str | None = None) -> None:
    """Register the ``og_image`` Jinja filter on a Flask app (signing if given a key)."""

    def og_image(page_url: str, **options: Any) -> str:
        return og_image_url(base_url, page_url, signing_key=signing_key, **options)

    app.jinja_env.filters["og_image"] = og_image
