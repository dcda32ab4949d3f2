"""Image URLs and the meta tags that carry them, in Python or in Jinja templates."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote_plus, urlencode

from ogshot_client.options import ImageOptions, check_version
from ogshot_client.signing import sign


class Html(str):
    """Markup that is already escaped: Jinja (and MarkupSafe) insert it as it is."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


def og_image_url(
    base_url: str,
    page_url: str,
    *,
    width: int | None = None,
    height: int | None = None,
    scale: int | None = None,
    format: str = "png",  # noqa: A002 - the public option is called "format"
    signing_key: str | None = None,
    wait_for: str | None = None,
    delay: int | None = None,
    hide: Sequence[str] | str | None = None,
    selector: str | None = None,
    dark: bool = False,
    version: str | None = None,
) -> str:
    """Return the image URL of ``page_url`` (options left out stay at their defaults).

    With ``signing_key`` (the first of the server's OGSHOT_SIGNING_KEYS) the URL is signed.
    ``wait_for``, ``delay``, ``hide``, ``selector`` and ``dark`` are the render options of
    docs/pages.md. ``version`` (``v=``: an updated-at time, a revision) makes a new URL for
    the page's new content, one platforms have not cached (docs/pages.md, "Fresh previews
    after an update"). Raises ``InvalidOptions`` for an option the service would refuse (the
    service alone checks a selector's syntax).
    """
    options = ImageOptions.parse(
        width=width, height=height, scale=scale, format=format, wait_for=wait_for,
        delay=delay, hide=hide, selector=selector, dark=dark,
    )  # fmt: skip
    given = {"w": width, "h": height, "scale": scale}
    return _url(base_url, page_url, options, given, signing_key, version)


def _url(  # noqa: PLR0917 - private, called twice with the same six
    base_url: str,
    page_url: str,
    options: ImageOptions,
    given: dict[str, int | None],
    signing_key: str | None,
    version: str | None,
) -> str:
    """The image URL of parsed ``options``; the query carries only the ``given`` size
    options, the render options that differ from their defaults and the version."""
    query: list[tuple[str, object]] = [(k, v) for k, v in given.items() if v is not None]
    for name, value in options.render_options().items():
        if name == "hide":
            query += [("hide", v) for v in options.hide]
        else:
            query.append((name, 1 if value is True else value))
    if version is not None:
        query.append(("v", check_version(version)))
    if signing_key:
        query.append(("s", sign(signing_key, page_url, options, version or "")))
    url = f"{base_url.rstrip('/')}/image/{quote_plus(page_url)}.{options.extension}"
    return f"{url}?{urlencode(query)}" if query else url


def og_tags(
    base_url: str,
    page_url: str,
    *,
    width: int | None = None,
    height: int | None = None,
    scale: int | None = None,
    format: str = "png",  # noqa: A002 - the public option is called "format"
    signing_key: str | None = None,
    alt: str | None = None,
    wait_for: str | None = None,
    delay: int | None = None,
    hide: Sequence[str] | str | None = None,
    selector: str | None = None,
    dark: bool = False,
    version: str | None = None,
) -> Html:
    """Return the Open Graph and Twitter meta tags of ``page_url``'s preview image.

    The width and height tags let Facebook show the image on a link's first share instead
    of fetching it in the background first (left out for an element capture, whose size is
    the element's); ``alt`` describes the image to screen readers. ``version`` is
    ``og_image_url``'s.
    """
    options = ImageOptions.parse(
        width=width, height=height, scale=scale, format=format, wait_for=wait_for,
        delay=delay, hide=hide, selector=selector, dark=dark,
    )  # fmt: skip
    given = {"w": width, "h": height, "scale": scale}
    url = _url(base_url, page_url, options, given, signing_key, version)
    pixels_wide, pixels_high = options.pixel_size
    tags = [("property", "og:image", url)]
    if not options.selector:
        tags += [
            ("property", "og:image:width", str(pixels_wide)),
            ("property", "og:image:height", str(pixels_high)),
        ]
    tags.append(("property", "og:image:type", options.content_type))
    if alt:
        tags.append(("property", "og:image:alt", alt))
    tags += [("name", "twitter:card", "summary_large_image"), ("name", "twitter:image", url)]
    if alt:
        tags.append(("name", "twitter:image:alt", alt))
    return Html("\n".join(
        f'<meta {attr}="{name}" content="{html.escape(value, quote=True)}">'
        for attr, name, value in tags
    ))  # fmt: skip


def init_app(app: Any, base_url: str, signing_key: str | None = None) -> None:
    """Register the ``og_image`` and ``og_tags`` Jinja filters on a Flask app.

    ``{{ request.url | og_tags }}`` writes every tag; ``{{ request.url | og_image }}``
    just the URL. Both sign when given a key, and take the options as keywords:
    ``{{ request.url | og_tags(version=board.updated) }}``. Flask itself is not needed to
    import this.
    """

    def og_image(page_url: str, **options: Any) -> str:
        return og_image_url(base_url, page_url, signing_key=signing_key, **options)

    def og_meta(page_url: str, **options: Any) -> Html:
        return og_tags(base_url, page_url, signing_key=signing_key, **options)

    app.jinja_env.filters["og_image"] = og_image
    app.jinja_env.filters["og_tags"] = og_meta
