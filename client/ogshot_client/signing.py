"""Signed image URLs: an HMAC-SHA256 of the canonical request, carried as ``s=``.

The canonical request is the page URL exactly as the site wrote it (before the service
normalizes it) and the options with their defaults filled in, so a site can sign without
knowing the service's normalization, and changing any option breaks the signature. The
service verifies with this module, so the two cannot drift.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Protocol

from ogshot_client.options import ImageOptions


class Signable(Protocol):
    """``ImageOptions``, or the service's request that holds them."""

    @property
    def options(self) -> ImageOptions: ...


def canonical(page_url: str, options: Signable, version: str = "") -> bytes:
    """The bytes that are signed for ``page_url`` rendered with ``options``.

    Render options (wait_for, delay, hide, selector, dark) follow as one JSON line, only when
    any is given: a URL without them keeps the signature it had before they existed. The
    version (``v=``) is a line of its own, ``v=<token>``, last and only when given: it
    starts with ``v=`` where the render options' line starts with ``{``, and its characters
    exclude newlines, so no version reads as another option (and URLs without one keep
    their signatures).
    """
    fields = options.options
    parts = [page_url, *(str(value) for value in fields.image_fields())]
    if rendering := fields.render_options():
        parts.append(json.dumps(rendering, separators=(",", ":"), sort_keys=True))
    if version:
        parts.append(f"v={version}")
    return "\n".join(parts).encode()


def sign(key: str, page_url: str, options: Signable, version: str = "") -> str:
    """Return the URL-safe base64 signature (no padding) of a request."""
    text = canonical(page_url, options, version)
    digest = hmac.new(key.encode(), text, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(
    keys: tuple[str, ...], signature: str, page_url: str, options: Signable, version: str = ""
) -> bool:
    """Tell whether ``signature`` was made with any of ``keys`` (constant-time comparisons)."""
    given = signature.encode()
    valid = False
    for key in keys:
        valid |= hmac.compare_digest(sign(key, page_url, options, version).encode(), given)
    return valid
