"""What a render asks of an engine and what it gets back: the value types, the Engine
interface, and the checks of a loaded page every engine makes the same way."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol
from urllib.parse import urldefrag

from ogshot_client.options import RENDERING, ImageOptions

from worker.engines.errors import RenderFailed, RenderRejected


def _product_token() -> str:
    try:
        return f"ogshot/{version('ogshot')}"
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "ogshot/dev"


# Appended to the engine's own User-Agent, so that a site can tell the renderer apart (serve
# a preview layout, let it through its bot protection); never the headless browser's default.
PRODUCT_TOKEN = _product_token()


def user_agent(default: str) -> str:
    """The browser's User-Agent as a visitor's browser sends it, plus ogshot's product token."""
    return default.replace("HeadlessChrome/", "Chrome/") + " " + PRODUCT_TOKEN


@dataclass(frozen=True)
class Shot:
    """A viewport screenshot, the page's title and how the wait for the page ended."""

    png: bytes
    title: str
    # How readiness ended: "ready", "timeout: <what was pending>", "error: <the page's
    # script error>" or "off" (OGSHOT_READY_TIMEOUT=0).
    readiness: str = "ready"
    # The bot check the page is ("cloudflare", "hcaptcha", ...; worker/engines/challenge.py),
    # or "".
    challenge: str = ""
    # An element capture (PageOptions.selector) larger than MAX_ELEMENT_PIXELS, cut to it.
    clipped: bool = False
    # What the wait was last held up by ("a timer the page set", "drawing on a canvas",
    # "images", ...; SETTLE_SCRIPT), or "" when the page was ready at once.
    waited: str = ""
    # What the first screen shows of the page's own (js/content.js): "content",
    # "placeholder" (only loading indicators), "empty", or "" where the page broke the look.
    content: str = ""


def same_document(current: str, url: str) -> bool:
    """Tell whether loading ``url`` where the browser is at ``current`` would only scroll
    (a fragment-only change, or the same URL with a fragment) instead of loading afresh."""
    return bool(current) and urldefrag(current)[0] == urldefrag(url)[0]


# The largest element capture, in pixels each way; larger boxes are clipped to it.
MAX_ELEMENT_PIXELS = 2400


@dataclass(frozen=True)
class PageOptions:
    """What one render asks of the page besides its viewport: the image URL's render
    options (ogshot_client.options.RENDERING, kept in step by a test), the delay in seconds."""

    wait_for: str = ""  # render once an element matching it is shown, within the wait
    delay: float = 0.0  # seconds to wait once the page is ready
    hide: tuple[str, ...] = ()  # selector lists whose elements are hidden
    selector: str = ""  # capture this element's box instead of the viewport
    dark: bool = False  # prefers-color-scheme: dark

    @classmethod
    def of(cls, options: ImageOptions) -> PageOptions:
        """The render options of an image's ``options``."""
        given = {option.name: getattr(options, option.name) for option in RENDERING}
        return cls(**{**given, "delay": options.delay / 1000})


PLAIN = PageOptions()  # the viewport, nothing asked of the page


def element_box(box: object, url: str, page: PageOptions, scale: int) -> tuple[list[int], bool]:
    """Check ELEMENT_SCRIPT's answer: the box to capture, clipped to MAX_ELEMENT_PIXELS,
    and whether it was clipped. Raises RenderFailed when no element matched or it is empty."""
    if not isinstance(box, list) or len(box) != 4:
        raise RenderFailed(f"{url}: selector {page.selector!r} matched no element")
    left, top, width, height = (int(v) for v in box)
    if width <= 0 or height <= 0:
        raise RenderFailed(f"{url}: selector {page.selector!r} matched an element of no size")
    most = MAX_ELEMENT_PIXELS // scale
    clipped = width > most or height > most
    return [left, top, min(width, most), min(height, most)], clipped


# Readiness, after `load`: the page's network is quiet (the engine watches it, HTTPS
# included), then SETTLE_SCRIPT runs in the page and waits for the work the page started
# (what ACTIVITY_SCRIPT saw), all within OGSHOT_READY_TIMEOUT.
DEFAULT_READY_TIMEOUT = 3.0


@dataclass(frozen=True)
class EngineOptions:
    """How an engine renders: the worker's settings, or a test's or the bench's."""

    render_timeout: float  # seconds for load and wait together (OGSHOT_RENDER_TIMEOUT)
    ready_timeout: float = DEFAULT_READY_TIMEOUT  # the wait after load; 0: none
    hide_consent: bool = True  # consent banners refused or hidden (worker/engines/consent.py)
    # False keeps each page's data for the next: only for the bench's floor (a bare
    # navigate and screenshot).
    clean: bool = True
    # True accepts any TLS certificate: only for the tests' own HTTPS server.
    insecure_certs: bool = False


class Engine(Protocol):
    """A running browser that turns a URL into a viewport screenshot."""

    name: str

    def screenshot(
        self, url: str, width: int, height: int, scale: int, page: PageOptions = ...
    ) -> Shot:
        """Load ``url`` in a width x height CSS-pixel viewport; return a PNG at ``scale`` of
        the viewport, or of ``page.selector``'s element."""

    def close(self) -> None:
        """Stop the browser and its driver; never raises."""


def check_status(status: object, url: str) -> None:
    """Raise RenderFailed for an HTTP error page: an error page is not a preview."""
    if status == -1:
        raise RenderFailed(f"{url} could not be loaded (network error)")
    if isinstance(status, int) and status >= 400:
        raise RenderRejected(url, f"HTTP {status}")
