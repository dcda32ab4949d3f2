"""Signed image URLs: an HMAC-SHA256 of the canonical request, carried as ``s=``.

The canonical request is the page URL exactly as the site wrote it (before ogshot normalizes
it) and the options with their defaults filled in, so a site can sign without knowing
ogshot's normalization, and changing any option breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from shared.keys import RenderRequest


def canonical(page_url: str, request: RenderRequest) -> bytes:
    """The bytes that are signed for ``page_url`` rendered as ``request``."""
    parts = (page_url, str(request.width), str(request.height), str(request.scale), request.format)
    return "\n".join(parts).encode()


def sign(key: str, page_url: str, request: RenderRequest) -> str:
    """Return the URL-safe base64 signature (no padding) of a request."""
    digest = hmac.new(key.encode(), canonical(page_url, request), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(keys: tuple[str, ...], signature: str, page_url: str, request: RenderRequest) -> bool:
    """Tell whether ``signature`` was made with any of ``keys`` (constant-time comparisons)."""
    given = signature.encode()
    valid = False
    for key in keys:
        valid |= hmac.compare_digest(sign(key, page_url, request).encode(), given)
    return valid
