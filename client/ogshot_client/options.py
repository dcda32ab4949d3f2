"""Image options: their defaults, their ranges and the one function that validates them.

The service builds its render requests with ``ImageOptions.parse`` too, so a site and the
service cannot disagree on a default or a limit.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_WIDTH = 1200
DEFAULT_HEIGHT = 630
DEFAULT_SCALE = 1
DEFAULT_FORMAT = "png"
# Accepted spellings of a format, and the canonical name each stands for.
FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}
# The file extension an image URL carries, by canonical format.
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
WIDTHS = (200, 2400)
HEIGHTS = (100, 2400)
SCALES = (1, 2)


class InvalidOptions(ValueError):  # noqa: N818 - reads as the outcome: 400
    """An image option is out of range (the service answers it with 400)."""


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
class ImageOptions:
    """The size, pixel density and format of an image, defaults filled in."""

    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    scale: int = DEFAULT_SCALE
    format: str = DEFAULT_FORMAT

    @classmethod
    def parse(
        cls,
        *,
        width: str | int | None = None,
        height: str | int | None = None,
        scale: str | int | None = None,
        format: str | None = None,  # noqa: A002 - the public option is called "format"
    ) -> ImageOptions:
        """Validate raw values (query-string text or ints; None for the default)."""
        fmt = FORMATS.get((format or DEFAULT_FORMAT).lower())
        if fmt is None:
            raise InvalidOptions("format must be png, jpg, jpeg or webp")
        return cls(
            width=_int_option("w", width, DEFAULT_WIDTH, *WIDTHS),
            height=_int_option("h", height, DEFAULT_HEIGHT, *HEIGHTS),
            scale=_int_option("scale", scale, DEFAULT_SCALE, *SCALES),
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

    @property
    def extension(self) -> str:
        """The file extension of the image's URL."""
        return EXTENSIONS[self.format]
