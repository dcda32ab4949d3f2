"""Image URLs and the meta tags that carry them, in Python or in Jinja templates."""

from __future__ import annotations

import html
from typing import Any, Unpack
from urllib.parse import quote_plus, urlencode

from ogshot_client.options import KEYED, ImageKeywords, ImageOptions, Kind, Role, check_version
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
    signing_key: str | None = None,
    version: str | None = None,
    **options: Unpack[ImageKeywords],
) -> str:
    """Return the image URL of ``page_url`` (options left out stay at their defaults).

    The options are ``ogshot_client.options.OPTIONS``' keyed ones: ``width``, ``height``,
    ``scale``, ``format`` and the render options of docs/pages.md (``wait_for``, ``delay``,
    ``hide``, ``selector``, ``dark``). With ``signing_key`` (the first of the server's
    OGSHOT_SIGNING_KEYS) the URL is signed. ``version`` (``v=``: an updated-at time, a
    revision) makes a new URL for the page's new content, one platforms have not cached
    (docs/pages.md, "Fresh previews after an update"). Raises ``InvalidOptions`` for an
    option the service would refuse (the service alone checks a selector's syntax).
    """
    return _url(base_url, page_url, ImageOptions.parse(**options), options, signing_key, version)


def _url(  # noqa: PLR0917 - private, called twice with the same six
    base_url: str,
    page_url: str,
    options: ImageOptions,
    given: ImageKeywords,
    signing_key: str | None,
    version: str | None,
) -> str:
    """The image URL of parsed ``options``: its query carries the size options ``given``
    (the format is the extension), the render options that differ from their defaults and
    the version."""
    query: list[tuple[str, object]] = []
    for option in KEYED:
        value = getattr(options, option.name)
        if option.role is Role.IMAGE:
            if option.kind is not Kind.CHOICE and given.get(option.name) is not None:
                query.append((option.query, value))
        elif option.kind is Kind.SELECTORS:
            query += [(option.query, one) for one in value]
        elif value:
            query.append((option.query, 1 if value is True else value))
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
    signing_key: str | None = None,
    alt: str | None = None,
    version: str | None = None,
    **options: Unpack[ImageKeywords],
) -> Html:
    """Return the Open Graph and Twitter meta tags of ``page_url``'s preview image.

    The width and height tags let Facebook show the image on a link's first share instead
    of fetching it in the background first (left out for an element capture, whose size is
    the element's); ``alt`` describes the image to screen readers. The options and
    ``version`` are ``og_image_url``'s.
    """
    parsed = ImageOptions.parse(**options)
    url = _url(base_url, page_url, parsed, options, signing_key, version)
    pixels_wide, pixels_high = parsed.pixel_size
    tags = [("property", "og:image", url)]
    if not parsed.selector:
        tags += [
            ("property", "og:image:width", str(pixels_wide)),
            ("property", "og:image:height", str(pixels_high)),
        ]
    tags.append(("property", "og:image:type", parsed.content_type))
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
