"""Image options: their defaults, their ranges and the one function that validates them.

The service builds its render requests with ``ImageOptions.parse`` too, so a site and the
service cannot disagree on a default or a limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
# Render options (docs/pages.md, "Make your page preview-ready").
DELAYS = (0, 10_000)  # ms of extra wait after the page is ready
MAX_SELECTOR = 300  # characters of one CSS selector (wait_for, selector, each hide)
MAX_SELECTORS = 600  # characters of all of them together (they ride in the image's metadata)
MAX_HIDE = 10  # hide= values per image
# An image URL's version (v=): an updated-at time, a revision, a hash of the content.
MAX_VERSION = 64
_VERSION = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_VERSION}}}")
SWITCH = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False, "": False}  # fmt: skip


class InvalidOptions(ValueError):  # noqa: N818 - reads as the outcome: 400
    """An image option is out of range (the service answers it with 400)."""


def check_version(value: str) -> str:
    """Return ``value`` if it is a valid image version (``v=``), else raise InvalidOptions."""
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        raise InvalidOptions(f"v must be 1 to {MAX_VERSION} characters of A-Z a-z 0-9 . _ : -")
    return value


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


def _selector(name: str, raw: str | None) -> str:
    """A selector's text, length-checked (the service also checks its syntax)."""
    value = (raw or "").strip()
    if len(value) > MAX_SELECTOR:
        raise InvalidOptions(f"{name} must be a CSS selector of at most {MAX_SELECTOR} characters")
    if "\x00" in value or "{" in value or "}" in value:
        raise InvalidOptions(f"{name} must be a CSS selector, without braces or NUL characters")
    return value


def _switch(name: str, raw: str | bool | None) -> bool:
    if isinstance(raw, bool):
        return raw
    value = SWITCH.get((raw or "").strip().lower())
    if value is None:
        raise InvalidOptions(f"{name} must be 1 or 0")
    return value


@dataclass(frozen=True)
class ImageOptions:
    """The size, pixel density and format of an image, and how to render the page; defaults
    filled in."""

    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    scale: int = DEFAULT_SCALE
    format: str = DEFAULT_FORMAT
    wait_for: str = ""  # render once an element matching it is visible
    delay: int = 0  # ms to wait after the page is ready
    hide: tuple[str, ...] = ()  # selector lists whose elements are hidden
    selector: str = ""  # capture this element's box instead of the viewport
    dark: bool = False  # the page sees prefers-color-scheme: dark

    @classmethod
    def parse(
        cls,
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
    ) -> ImageOptions:
        """Validate raw values (query-string text or ints; None for the default)."""
        fmt = FORMATS.get((format or DEFAULT_FORMAT).lower())
        if fmt is None:
            raise InvalidOptions("format must be png, jpg, jpeg or webp")
        hidden = [hide] if isinstance(hide, str) else list(hide or ())
        if len(hidden) > MAX_HIDE:
            raise InvalidOptions(f"hide may be given at most {MAX_HIDE} times")
        parsed = cls(
            width=_int_option("w", width, DEFAULT_WIDTH, *WIDTHS),
            height=_int_option("h", height, DEFAULT_HEIGHT, *HEIGHTS),
            scale=_int_option("scale", scale, DEFAULT_SCALE, *SCALES),
            format=fmt,
            wait_for=_selector("wait_for", wait_for),
            delay=_int_option("delay", delay, 0, *DELAYS),
            hide=tuple(v for v in (_selector("hide", h) for h in hidden) if v),
            selector=_selector("selector", selector),
            dark=_switch("dark", dark),
        )
        if len(parsed.wait_for + parsed.selector + "".join(parsed.hide)) > MAX_SELECTORS:
            raise InvalidOptions(
                f"wait_for, hide and selector must be at most {MAX_SELECTORS} characters together"
            )
        return parsed

    @property
    def options(self) -> ImageOptions:
        """Itself: the same spelling as the service's request, for the signing code."""
        return self

    def render_options(self) -> dict[str, object]:
        """The render options that differ from their defaults, by their URL names: what
        the cache key and the signature add for them (nothing, for an image without any)."""
        given: dict[str, object] = {
            "wait_for": self.wait_for,
            "delay": self.delay,
            "hide": list(self.hide),
            "selector": self.selector,
            "dark": self.dark,
        }
        return {name: value for name, value in given.items() if value}

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
