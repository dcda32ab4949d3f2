"""Browser engines behind one small interface, and the errors they are translated into.

Nothing outside this package imports selenium or marionette_driver.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol
from urllib.parse import urldefrag

from ogshot_client.options import RENDERING, ImageOptions

from worker.engines.challenge import CHALLENGE_FUNCTION
from worker.engines.pagejs import page_script


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


# Readiness, after `load`: the page's network is quiet (the engine watches it, HTTPS
# included), then SETTLE_SCRIPT runs in the page and waits for the work the page started
# (what ACTIVITY_SCRIPT saw), all within OGSHOT_READY_TIMEOUT.
DEFAULT_READY_TIMEOUT = 3.0
# Quiet: no request started or ended for this long. Short, so that a page that was ready at
# load pays little for the look: work a page starts later (a timer's request, a chain whose
# next step waits on a timer) is the settle script's to wait for.
QUIET_SECONDS = 0.1
# How often the engine looks at the page's requests while some are pending.
POLL_SECONDS = 0.02


def next_look(pending: bool, idle: float) -> float:
    """Seconds until the engine looks at the network again, ``idle`` seconds after the last
    request started or ended. With nothing pending, not before the quiet window could have
    passed: a request starting meanwhile is seen then all the same, and each look costs the
    browser and its driver CPU (a fifth of a ready page's render in Chromium before)."""
    if pending:
        return POLL_SECONDS
    return max(POLL_SECONDS, QUIET_SECONDS - idle)


# Waits for the page after load (js/settle.js says what for) within arguments[0] ms and
# resolves with [outcome, waited]: "ready" or "timeout: <what was still awaited>", and what
# the wait was last held up by ("" for nothing). It reads what js/activity.js, injected
# before the page's own scripts, saw the page do.
SETTLE_SCRIPT = page_script("settle.js")
ACTIVITY_SCRIPT = page_script("activity.js")


def settled(answer: object) -> tuple[str, str]:
    """SETTLE_SCRIPT's answer as (outcome, waited)."""
    if isinstance(answer, list) and len(answer) == 2:
        return str(answer[0]), str(answer[1] or "")
    return str(answer), ""


def await_ready(
    pending_after: Callable[[float], list[str] | None],
    hide_consent: Callable[[], str],
    settle: Callable[[float], str],
    ready_timeout: float,
    left: float,
) -> str:
    """Wait for a loaded page within ``ready_timeout`` seconds and the ``left`` seconds of
    the render's own limit; say how it ended.

    ``pending_after(seconds)`` waits for the network to be quiet: None when it is, else the
    requests pending when the time ran out. ``hide_consent()`` then injects autoconsent
    where the page has a consent banner by now ("" or "error: ..."), and ``settle(seconds)``
    runs SETTLE_SCRIPT. Returns "ready", "timeout: <what was still awaited>", "error: <the
    page's script error>", or "off" when readiness is switched off (``ready_timeout`` 0).
    """
    if ready_timeout <= 0:
        return "off"
    budget = min(ready_timeout, left)
    if budget <= 0:
        return "timeout: the page took all of OGSHOT_RENDER_TIMEOUT to load"
    deadline = time.monotonic() + budget
    pending = pending_after(budget)
    failed = hide_consent()
    outcome = settle(max(0.0, deadline - time.monotonic()))
    if pending is None:
        return failed if failed and outcome == "ready" else outcome
    if not pending:
        return "timeout: the network never went quiet (requests kept starting)"
    shown = ", ".join(url[:100] for url in pending[:3])
    more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
    return f"timeout: the network never went quiet ({len(pending)} pending: {shown}{more})"


# The HTTP status of the main document (0 where the browser does not expose it), or -1 on
# the browser's own error page (Chromium shows one instead of failing the navigation).
STATUS_SCRIPT = """
if (/^(chrome-error|about:neterror|about:certerror)/.test(document.documentURI)) return -1;
const nav = performance.getEntriesByType('navigation')[0];
return nav && nav.responseStatus ? nav.responseStatus : 0;
"""
VIEWPORT_SCRIPT = "return [window.innerWidth, window.innerHeight];"
AGENT_SCRIPT = "return navigator.userAgent;"
# Redirects the main document may take (Firefox: network.http.redirection-limit).
MAX_REDIRECTS = 5


class RenderFailed(Exception):  # noqa: N818 - reads as the outcome
    """The page could not be rendered (network error, HTTP error status): not retried."""


class RenderRejected(RenderFailed):
    """The page loaded but is no preview (an HTTP error, a blank page, a bot check).

    ``reason`` is short and of few values ("HTTP 503", "blank page", "loading placeholder",
    "bot challenge (cloudflare)"): the job's error, the metrics' label, the admin's note.
    ``picture`` is the encoded image the quality gate refused (None for an HTTP error),
    which ``ogshot render`` still writes for a person to look at.
    """

    def __init__(self, url: str, reason: str, picture: bytes | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.reason = reason
        self.picture = picture


class RenderTimeout(RenderFailed):
    """The page did not finish loading within OGSHOT_RENDER_TIMEOUT."""


class BrowserError(Exception):
    """The browser itself failed (crashed, hung, lost its session): restart it and retry."""


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


# The page's title, where the browser now is (after redirects and fragment jumps), where
# the viewport is in the page, the bot check the page is, if it is one, and what its first
# screen shows (Shot.content).
CONTENT_FUNCTION = page_script("content.js").strip()
PAGE_SCRIPT = f"""
let content = '';
try {{ content = {CONTENT_FUNCTION}; }} catch (e) {{ /* the page broke the look */ }}
return [(document.title || '').trim().slice(0, 200), location.href, pageXOffset, pageYOffset,
        {CHALLENGE_FUNCTION}, content];
"""


def same_document(current: str, url: str) -> bool:
    """Tell whether loading ``url`` where the browser is at ``current`` would only scroll
    (a fragment-only change, or the same URL with a fragment) instead of loading afresh."""
    return bool(current) and urldefrag(current)[0] == urldefrag(url)[0]


# Whether an element matching arguments[0] is shown (wait_for's final word).
SHOWN_SCRIPT = """
return [...document.querySelectorAll(arguments[0])].some(el =>
  el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden');
"""
# Hides the elements of each selector list in arguments[0] (the image URL's hide values),
# with a style sheet, so elements a script adds later are hidden too. Returns the selectors
# the browser refused.
HIDE_SCRIPT = """
const style = document.createElement('style');
(document.head || document.documentElement).appendChild(style);
const refused = [];
for (const selector of arguments[0]) {
  try {
    const rules = style.sheet.cssRules.length;
    style.sheet.insertRule(`${selector} { display: none !important; }`, rules);
  } catch (error) { refused.push(selector); }
}
return refused;
"""
# The box of the first element matching arguments[0], in CSS pixels of the document
# ([left, top, width, height]), or null.
ELEMENT_SCRIPT = """
const el = document.querySelector(arguments[0]);
if (!el) return null;
const r = el.getBoundingClientRect();
return [Math.round(r.left + pageXOffset), Math.round(r.top + pageYOffset),
        Math.round(r.width), Math.round(r.height)];
"""
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


class PageSteps:
    """What both engines do with a page once it loaded, in one order: hide what the image
    URL hides, wait for the page (await_ready), check that the hiding took and the wait_for
    element showed, wait out the delay. Each engine says how it runs a script in the page
    and watches its network."""

    _options: EngineOptions
    # What the last wait was held up by (Shot.waited): set by each engine's _settle.
    _waited: str = ""

    def _page_script(self, script: str, argument: object, failed: object) -> object:
        """Run an option script with ``argument``; ``failed`` if the page's browser refused
        it (a selector it does not know) or the page broke it."""
        raise NotImplementedError

    def _pending_after(self, seconds: float) -> list[str] | None:
        raise NotImplementedError  # await_ready's pending_after

    def _hide_consent(self) -> str:
        raise NotImplementedError  # await_ready's hide_consent

    def _settle(self, seconds: float, wait_for: str = "") -> str:
        raise NotImplementedError  # SETTLE_SCRIPT within ``seconds``; sets _waited

    def _taken(
        self,
        png: bytes,
        readiness: str,
        clipped: bool,
        answer: tuple[object, object, object],
    ) -> Shot:
        """The Shot of a capture: ``answer`` is PAGE_SCRIPT's title, challenge and content."""
        title, challenge, content = (str(value or "") for value in answer)
        return Shot(png, title, readiness, challenge, clipped, self._waited, content)

    def _after_load(self, url: str, page: PageOptions, started: float) -> str:
        """Take the page loaded since ``started`` (monotonic) to its capture; return how the
        wait for it ended. Raises RenderFailed for a refused hide or a wait_for never shown."""
        refused = self._page_script(HIDE_SCRIPT, list(page.hide), list(page.hide))
        self._waited = ""
        readiness = await_ready(
            self._pending_after,
            self._hide_consent,
            lambda budget: self._settle(budget, page.wait_for),
            self._options.ready_timeout,
            self._options.render_timeout - (time.monotonic() - started),
        )
        if isinstance(refused, list) and refused:
            raise RenderFailed(f"{url}: hide {refused[0]!r} is not a selector this browser knows")
        if page.wait_for and not self._page_script(SHOWN_SCRIPT, page.wait_for, False):
            raise RenderFailed(
                f"{url}: no element matching wait_for {page.wait_for!r} was shown in time"
            )
        if page.delay:
            time.sleep(page.delay)
        return readiness


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


def make_engine(
    name: str,
    render_timeout: float,
    proxy_port: int | None = None,
    binary: Path | None = None,
    *,
    ready_timeout: float = DEFAULT_READY_TIMEOUT,
    insecure_certs: bool = False,
    clean: bool = True,
    hide_consent: bool = True,
) -> Engine:
    """Start the named engine (``firefox`` or ``chromium``), behind the egress guard if given.

    ``binary`` replaces the engine's usual executable (Debian's); the keywords are those of
    EngineOptions.
    """
    options = EngineOptions(
        render_timeout=render_timeout,
        ready_timeout=ready_timeout,
        hide_consent=hide_consent,
        clean=clean,
        insecure_certs=insecure_certs,
    )
    extra = {"binary": str(binary)} if binary else {}
    if name == "firefox":
        from worker.engines.firefox import FirefoxEngine

        return FirefoxEngine(options, proxy_port, **extra)
    if name == "chromium":
        from worker.engines.chromium import ChromiumEngine

        return ChromiumEngine(options, proxy_port, **extra)
    raise ValueError(f"unknown engine {name!r}")
