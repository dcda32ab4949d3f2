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

KEY_VERSION = "v1"
FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
WIDTHS = (200, 2400)
HEIGHTS = (100, 2400)
SCALES = (1, 2)


class InvalidOptions(ValueError):  # noqa: N818 - reads as the outcome: 400
    """An image option is out of range (answered with 400)."""


def _int_option(name: str, raw: str | int | None, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidOptions(f"{name} must be an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise InvalidOptions(f"{name} must be an integer from {low} to {high}")
    return value


@dataclass(frozen=True)
class RenderRequest:
    """What to render: a normalized page URL and the image options."""

    url: str
    width: int = 1200
    height: int = 630
    scale: int = 1
    format: str = "png"

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
        fmt = FORMATS.get((format or "png").lower())
        if fmt is None:
            raise InvalidOptions("format must be png, jpg, jpeg or webp")
        scale_value = _int_option("scale", scale, 1, 1, 2)
        return cls(
            url=url,
            width=_int_option("w", width, 1200, *WIDTHS),
            height=_int_option("h", height, 630, *HEIGHTS),
            scale=scale_value,
            format=fmt,
        )

    @property
    def pixel_size(self) -> tuple[int, int]:
        """The size of the finished image in pixels."""
        return self.width * self.scale, self.height * self.scale

    @property
    def content_type(self) -> str:
        """The MIME type of the finished image."""
        return CONTENT_TYPES[self.format]

    def cache_key(self) -> str:
        """Return the storage key: version, two fan-out levels, hash and extension."""
        canonical = json.dumps(
            [KEY_VERSION, self.url, self.width, self.height, self.scale, self.format],
            separators=(",", ":"),
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return f"{KEY_VERSION}/{digest[:2]}/{digest[2:4]}/{digest}.{EXTENSIONS[self.format]}"

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
