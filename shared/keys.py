"""Render requests and their cache keys.

A key is a versioned hash of the normalized request, fanned out into two folder levels so no
directory (or S3 listing page) grows huge. Bump ``KEY_VERSION`` when rendering changes in a
way that must not serve old images; old keys are then simply never read again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

# The options' defaults, limits and spellings are the site helper's: a URL it builds is one
# the service accepts.
from ogshot_client.options import (
    CONTENT_TYPES,
    DEFAULT_FORMAT,
    DEFAULT_HEIGHT,
    DEFAULT_SCALE,
    DEFAULT_WIDTH,
    FORMATS,
    ImageOptions,
    InvalidOptions,
)

KEY_VERSION = "v1"

__all__ = ["CONTENT_TYPES", "FORMATS", "KEY_VERSION", "InvalidOptions", "RenderRequest"]


@dataclass(frozen=True)
class RenderRequest:
    """What to render: a normalized page URL and the image options."""

    url: str
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    scale: int = DEFAULT_SCALE
    format: str = DEFAULT_FORMAT

    @classmethod
    def build(
        cls,
        url: str,
        *,
        width: str | int | None = None,
        height: str | int | None = None,
        scale: str | int | None = None,
        format: str | None = None,  # noqa: A002 - the public option is called "format"
    ) -> RenderRequest:
        """Validate raw option values (query-string text or ints) into a request."""
        options = ImageOptions.parse(width=width, height=height, scale=scale, format=format)
        return cls(url, options.width, options.height, options.scale, options.format)

    @property
    def options(self) -> ImageOptions:
        """The image options alone (the site helper's type)."""
        return ImageOptions(self.width, self.height, self.scale, self.format)

    @property
    def pixel_size(self) -> tuple[int, int]:
        """The size of the finished image in pixels."""
        return self.options.pixel_size

    @property
    def content_type(self) -> str:
        """The MIME type of the finished image."""
        return self.options.content_type

    def cache_key(self) -> str:
        """Return the storage key: version, two fan-out levels, hash and extension."""
        canonical = json.dumps(
            [KEY_VERSION, self.url, self.width, self.height, self.scale, self.format],
            separators=(",", ":"),
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return f"{KEY_VERSION}/{digest[:2]}/{digest[2:4]}/{digest}.{self.options.extension}"

    def to_payload(self) -> dict[str, Any]:
        """Return the request as plain JSON-able data for a job."""
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> RenderRequest:
        """Rebuild a request from ``to_payload`` output, validating it again."""
        return cls.build(
            str(data["url"]),
            width=data.get("width"),
            height=data.get("height"),
            scale=data.get("scale"),
            format=data.get("format"),
        )


def thumbnail_key(key: str) -> str:
    """Return the storage key of an image's thumbnail."""
    return f"thumbs/{key}.webp"
