"""Render requests and their cache keys.

A key is a versioned hash of the normalized request, fanned out into two folder levels so no
directory (or S3 listing page) grows huge. Bump ``KEY_VERSION`` when rendering changes in a
way that must not serve old images; old keys are then simply never read again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
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

from shared.selectors import check_selector
from shared.urlpolicy import MAX_URL_LENGTH

KEY_VERSION = "v1"

__all__ = ["CONTENT_TYPES", "FORMATS", "KEY_VERSION", "InvalidOptions", "RenderRequest"]


# The options by the names image URLs and the pre-warm API give them, to build's keywords.
QUERY_NAMES = {
    "w": "width", "h": "height", "scale": "scale", "format": "format", "wait_for": "wait_for",
    "delay": "delay", "hide": "hide", "selector": "selector", "dark": "dark",
}  # fmt: skip


@dataclass(frozen=True)
class RenderRequest:
    """What to render: a normalized page URL and the image and render options."""

    url: str
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    scale: int = DEFAULT_SCALE
    format: str = DEFAULT_FORMAT
    wait_for: str = ""
    delay: int = 0
    hide: tuple[str, ...] = ()
    selector: str = ""
    dark: bool = False

    @classmethod
    def build(
        cls,
        url: str,
        *,
        width: str | int | None = None,
        height: str | int | None = None,
        scale: str | int | None = None,
        format: str | None = None,  # noqa: A002 - the public option is called "format"
        wait_for: str | None = None,
        delay: str | int | None = None,
        hide: Sequence[str] | str | None = None,
        selector: str | None = None,
        dark: str | bool | None = None,
    ) -> RenderRequest:
        """Validate raw option values (query-string text or ints) into a request; selectors
        are parsed as CSS (shared/selectors.py)."""
        options = ImageOptions.parse(
            width=width, height=height, scale=scale, format=format, wait_for=wait_for,
            delay=delay, hide=hide, selector=selector, dark=dark,
        )  # fmt: skip
        for name, value in (("wait_for", options.wait_for), ("selector", options.selector),
                            *(("hide", h) for h in options.hide)):  # fmt: skip
            if value:
                check_selector(name, value)
        # Both ride in the image's metadata, which S3 caps at 2 KiB (shared/storage/s3.py).
        if (rendering := options.render_options()) and len(url) + len(
            json.dumps(rendering)
        ) > MAX_URL_LENGTH:
            raise InvalidOptions(
                f"the page URL and the render options must be at most {MAX_URL_LENGTH} "
                "characters together"
            )
        return cls(url, **asdict(options))

    @classmethod
    def from_options(cls, url: str, options: Mapping[str, Any]) -> RenderRequest:
        """Build from options named as image URLs name them (``w``, ``h``, ``hide``...)."""
        return cls.build(url, **{QUERY_NAMES[k]: v for k, v in options.items() if k in QUERY_NAMES})

    @property
    def options(self) -> ImageOptions:
        """The image options alone (the site helper's type)."""
        fields = asdict(self)
        del fields["url"]
        fields["hide"] = tuple(fields["hide"])
        return ImageOptions(**fields)

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
        parts: list[Any] = [KEY_VERSION, self.url, self.width, self.height, self.scale, self.format]
        if rendering := self.options.render_options():
            parts.append(rendering)
        canonical = json.dumps(parts, separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return f"{KEY_VERSION}/{digest[:2]}/{digest[2:4]}/{digest}.{self.options.extension}"

    def to_payload(self) -> dict[str, Any]:
        """Return the request as plain JSON-able data for a job."""
        payload = asdict(self)
        payload["hide"] = list(self.hide)
        return payload

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> RenderRequest:
        """Rebuild a request from ``to_payload`` output, validating it again."""
        return cls.build(str(data["url"]), **{k: data.get(k) for k in QUERY_NAMES.values()})


def thumbnail_key(key: str) -> str:
    """Return the storage key of an image's thumbnail."""
    return f"thumbs/{key}.webp"
