"""Render requests and their cache keys.

A key is a versioned hash of the normalized request, fanned out into two folder levels so no
directory (or S3 listing page) grows huge. Bump ``KEY_VERSION`` when rendering changes in a
way that must not serve old images; old keys are then simply never read again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Unpack

# Every option is declared once, in the site helper (OPTIONS): a URL it builds is one the
# service accepts, with the same defaults and limits.
from ogshot_client.options import (
    CONTENT_TYPES,
    FORMATS,
    KEYED,
    ImageOptions,
    InvalidOptions,
    Kind,
    RawOptions,
)

from shared.selectors import check_selector
from shared.urlpolicy import MAX_URL_LENGTH

KEY_VERSION = "v1"

__all__ = ["CONTENT_TYPES", "FORMATS", "KEY_VERSION", "InvalidOptions", "RenderRequest"]


# The keyed options by the names image URLs and the pre-warm API give them, to build's keywords.
QUERY_NAMES = {option.query: option.name for option in KEYED}


@dataclass(frozen=True)
class RenderRequest:
    """What to render: a normalized page URL and its image and render options."""

    url: str
    options: ImageOptions = ImageOptions()  # noqa: RUF009 - frozen: sharing it is safe

    @classmethod
    def build(cls, url: str, **raw: Unpack[RawOptions]) -> RenderRequest:
        """Validate raw option values (query-string text or ints) into a request; selectors
        are parsed as CSS (shared/selectors.py)."""
        options = ImageOptions.parse(**raw)
        for option in KEYED:
            if option.kind in (Kind.SELECTOR, Kind.SELECTORS):
                value = getattr(options, option.name)
                for selector in value if isinstance(value, tuple) else (value,):
                    if selector:
                        check_selector(option.query, selector)
        # Both ride in the image's metadata, which S3 caps at 2 KiB (shared/storage/s3.py).
        if (rendering := options.render_options()) and len(url) + len(
            json.dumps(rendering)
        ) > MAX_URL_LENGTH:
            raise InvalidOptions(
                f"the page URL and the render options must be at most {MAX_URL_LENGTH} "
                "characters together"
            )
        return cls(url, options)

    @classmethod
    def from_options(cls, url: str, options: Mapping[str, Any]) -> RenderRequest:
        """Build from options named as image URLs name them (``w``, ``h``, ``hide``...)."""
        given: dict[str, Any] = {QUERY_NAMES[k]: v for k, v in options.items() if k in QUERY_NAMES}
        return cls.build(url, **given)

    @property
    def pixel_size(self) -> tuple[int, int]:
        """The size of the finished image in pixels."""
        return self.options.pixel_size

    @property
    def content_type(self) -> str:
        """The MIME type of the finished image."""
        return self.options.content_type

    def cache_key(self) -> str:
        """Return the storage key: version, two fan-out levels, hash and extension.

        Render options are hashed only when given: an image without any keeps the key it
        had before they existed.
        """
        parts: list[Any] = [KEY_VERSION, self.url, *self.options.image_fields()]
        if rendering := self.options.render_options():
            parts.append(rendering)
        canonical = json.dumps(parts, separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return f"{KEY_VERSION}/{digest[:2]}/{digest[2:4]}/{digest}.{self.options.extension}"

    def to_payload(self) -> dict[str, Any]:
        """Return the request as plain JSON-able data for a job: the URL and every keyed
        option by its field name, flat (jobs queued by any version of ogshot read alike)."""
        fields = {option.name: getattr(self.options, option.name) for option in KEYED}
        return {"url": self.url, **{k: list(v) if isinstance(v, tuple) else v
                                    for k, v in fields.items()}}  # fmt: skip

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> RenderRequest:
        """Rebuild a request from ``to_payload`` output, validating it again."""
        given: dict[str, Any] = {option.name: data.get(option.name) for option in KEYED}
        return cls.build(str(data["url"]), **given)


def thumbnail_key(key: str) -> str:
    """Return the storage key of an image's thumbnail."""
    return f"thumbs/{key}.webp"
