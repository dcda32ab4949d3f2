"""Every image URL option, declared once (``OPTIONS``), and the one function that validates them.

Each option's row names it (keyword, URL name), types it, bounds it, gives its default, its
help line and its role: what the cache key and the signature make of it. The service builds
its render requests, its query table, its document types (pre-warm JSON, sites TOML), its
OpenAPI schema, its command-line flags and its engines' page options from these rows, so a
site and the service cannot disagree on a default or a limit. Adding an option is a row
here, a field of ``ImageOptions``, a key of ``ImageKeywords`` and ``RawOptions`` (tests
keep the four in step), and what it does to the page (worker/engines).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

# Accepted spellings of a format, and the canonical name each stands for.
FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp"}
# The file extension an image URL carries, by canonical format.
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
MAX_SELECTOR = 300  # characters of one CSS selector (wait_for, selector, each hide)
MAX_SELECTORS = 600  # characters of all of them together (they ride in the image's metadata)
SWITCH = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False, "": False}  # fmt: skip


class InvalidOptions(ValueError):  # noqa: N818 - reads as the outcome: 400
    """An image option is out of range (the service answers it with 400)."""


class Role(enum.Enum):
    """What an option is to the cache key, the signature and the render."""

    IMAGE = "image"  # the image's size and format: keyed and signed, default or not
    RENDER = "render"  # how the page is rendered: keyed and signed when not the default
    SIGNED = "signed"  # a URL field that is signed but neither keyed nor rendered


class Kind(enum.Enum):
    """How an option's value is written and checked."""

    INTEGER = "integer"  # within ``bounds``
    CHOICE = "choice"  # one of ``choices``, case-insensitive
    SELECTOR = "selector"  # one CSS selector list (the service parses it too)
    SELECTORS = "selectors"  # a list of them, at most ``bounds[1]``; repeated in URLs
    SWITCH = "switch"  # 1 or 0 in URLs, a boolean in documents
    WORD = "word"  # 1 to ``bounds[1]`` characters of A-Z a-z 0-9 . _ : -


# The type a document (the pre-warm JSON, the sites TOML) gives each kind in.
DOCUMENT_TYPES: dict[Kind, type] = {
    Kind.INTEGER: int, Kind.CHOICE: str, Kind.SELECTOR: str, Kind.SELECTORS: list,
    Kind.SWITCH: bool, Kind.WORD: str,
}  # fmt: skip


@dataclass(frozen=True)
class Option:
    """One image URL option."""

    name: str  # the keyword and field name
    query: str  # the name in image URLs, the pre-warm JSON and the sites file
    kind: Kind
    default: Any
    help: str  # one line, for the command line and the OpenAPI schema
    role: Role = Role.RENDER
    bounds: tuple[int, int] = (0, 0)  # an integer's range; a list's or a token's length
    choices: tuple[str, ...] = ()
    metavar: str | None = None  # the command line's name for its value
    short: str | None = None  # its short command-line flag

    @property
    def flag(self) -> str:
        """Its long command-line flag."""
        return "--" + self.name.replace("_", "-")

    @property
    def document_type(self) -> type:
        """The type a JSON or TOML document gives it in."""
        return DOCUMENT_TYPES[self.kind]

    def parse(self, raw: Any) -> Any:
        """Validate one raw value (URL text, or a document's value; None: the default)."""
        if self.kind is Kind.INTEGER:
            return _integer(self, raw)
        if self.kind is Kind.CHOICE:
            value = FORMATS.get((raw or self.default).lower())
            if value is None:
                raise InvalidOptions(f"{self.query} must be {_either(self.choices)}")
            return value
        if self.kind is Kind.SELECTOR:
            return _selector(self.query, raw)
        if self.kind is Kind.SELECTORS:
            given = [raw] if isinstance(raw, str) else list(raw or ())
            if len(given) > self.bounds[1]:
                raise InvalidOptions(f"{self.query} may be given at most {self.bounds[1]} times")
            return tuple(v for v in (_selector(self.query, one) for one in given) if v)
        if self.kind is Kind.SWITCH:
            return _switch(self.query, raw)
        return _token(self, raw)


OPTIONS: tuple[Option, ...] = (
    Option("width", "w", Kind.INTEGER, 1200, "image width in CSS pixels", Role.IMAGE,
           bounds=(200, 2400), metavar="PX", short="-W"),
    Option("height", "h", Kind.INTEGER, 630, "image height in CSS pixels", Role.IMAGE,
           bounds=(100, 2400), metavar="PX", short="-H"),
    Option("scale", "scale", Kind.INTEGER, 1, "device pixels per CSS pixel", Role.IMAGE,
           bounds=(1, 2)),
    Option("format", "format", Kind.CHOICE, "png", "the image's format", Role.IMAGE,
           choices=tuple(FORMATS)),
    Option("wait_for", "wait_for", Kind.SELECTOR, "",
           "render once an element matching it is shown", metavar="SELECTOR"),
    Option("delay", "delay", Kind.INTEGER, 0, "milliseconds to wait once the page is ready",
           bounds=(0, 10_000), metavar="MS"),
    Option("hide", "hide", Kind.SELECTORS, (),
           "hide the elements these selector lists match", bounds=(0, 10),
           metavar="SELECTOR"),
    Option("selector", "selector", Kind.SELECTOR, "",
           "capture this element instead of the viewport"),
    Option("dark", "dark", Kind.SWITCH, False, "the page sees prefers-color-scheme: dark"),
    # An updated-at time, a revision, a hash of the content: a new URL for new content.
    Option("version", "v", Kind.WORD, "", "the image's version: an updated-at time, a revision",
           Role.SIGNED, bounds=(1, 64), metavar="V"),
    Option("signature", "s", Kind.WORD, "", "the URL's signature", Role.SIGNED,
           bounds=(1, 128)),
)  # fmt: skip
BY_NAME = {option.name: option for option in OPTIONS}
BY_QUERY = {option.query: option for option in OPTIONS}
# What a render request holds: the options that are keyed (all but the URL fields).
KEYED = tuple(option for option in OPTIONS if option.role is not Role.SIGNED)
RENDERING = tuple(option for option in OPTIONS if option.role is Role.RENDER)
_VERSION = BY_NAME["version"]


class ImageKeywords(TypedDict, total=False):
    """The keyed options as the helper's functions take them (``og_image_url``, ``og_tags``)."""

    width: int | None
    height: int | None
    scale: int | None
    format: str | None
    wait_for: str | None
    delay: int | None
    hide: Sequence[str] | str | None
    selector: str | None
    dark: bool | None


class RawOptions(TypedDict, total=False):
    """The keyed options as text from a URL or values from a document, to be validated."""

    width: str | int | None
    height: str | int | None
    scale: str | int | None
    format: str | None
    wait_for: str | None
    delay: str | int | None
    hide: Sequence[str] | str | None
    selector: str | None
    dark: str | bool | None


def check_version(value: str) -> str:
    """Return ``value`` if it is a valid image version (``v=``), else raise InvalidOptions."""
    return _token(_VERSION, value)


def _either(choices: Sequence[object]) -> str:
    *first, last = [str(choice) for choice in choices]
    return f"{', '.join(first)} or {last}"


def _integer(option: Option, raw: str | int | None) -> int:
    if raw is None or raw == "":
        return int(option.default)
    low, high = option.bounds
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidOptions(f"{option.query} must be an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise InvalidOptions(f"{option.query} must be an integer from {low} to {high}")
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


def _token(option: Option, value: object) -> str:
    low, high = option.bounds
    if not isinstance(value, str) or not re.fullmatch(rf"[A-Za-z0-9._:-]{{{low},{high}}}", value):
        raise InvalidOptions(
            f"{option.query} must be {low} to {high} characters of A-Z a-z 0-9 . _ : -"
        )
    return value


@dataclass(frozen=True)
class ImageOptions:
    """The size, pixel density and format of an image, and how to render the page; defaults
    filled in. Its fields are ``KEYED``'s, in order."""

    width: int = BY_NAME["width"].default
    height: int = BY_NAME["height"].default
    scale: int = BY_NAME["scale"].default
    format: str = BY_NAME["format"].default
    wait_for: str = BY_NAME["wait_for"].default
    delay: int = BY_NAME["delay"].default
    hide: tuple[str, ...] = BY_NAME["hide"].default
    selector: str = BY_NAME["selector"].default
    dark: bool = BY_NAME["dark"].default

    @classmethod
    def parse(cls, **raw: Unpack[RawOptions]) -> ImageOptions:
        """Validate raw values (query-string text or ints; None for the default)."""
        given: dict[str, Any] = dict(raw)
        parsed = cls(**{option.name: option.parse(given.get(option.name)) for option in KEYED})
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
        given = {option.query: getattr(self, option.name) for option in RENDERING}
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in given.items() if value}  # fmt: skip

    def image_fields(self) -> list[Any]:
        """The size and format, in the order the cache key and the signature list them."""
        return [getattr(self, option.name) for option in KEYED if option.role is Role.IMAGE]

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
