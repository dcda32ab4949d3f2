"""Browser engines behind one small interface, and the errors they are translated into.

Nothing outside this package imports selenium or marionette_driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol


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


# Resolves once the first screen's images (lazy ones included) are decoded, web fonts are
# ready, a page's own window.ogshotReady (if it sets one) is true, animations are at their
# end, and two frames have been painted; or after 3 s: a font that never loads must not cost
# the render its whole time limit.
SETTLE_SCRIPT = """
const done = arguments[arguments.length - 1];
const budget = 3000;
const deadline = Date.now() + budget;
const timer = setTimeout(() => done('timeout'), budget);
const nextFrame = () => new Promise(resolve => requestAnimationFrame(resolve));
const inFirstScreen = el => {
  const r = el.getBoundingClientRect();
  return r.bottom >= 0 && r.right >= 0 && r.top < innerHeight && r.left < innerWidth;
};
const settle = async () => {
  // load does not wait for lazy images: load those of the first screen now, and decode them.
  const images = [...document.images].filter(inFirstScreen);
  for (const img of images) if (img.loading === 'lazy') img.loading = 'eager';
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  if (document.fonts) await document.fonts.ready;
  // A page that sets window.ogshotReady = false is waited for until it sets it to true.
  while (window.ogshotReady === false && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  // Animations and transitions at their end state, as a visitor sees them a moment later;
  // endless ones frozen where they are.
  for (const animation of document.getAnimations ? document.getAnimations() : []) {
    try {
      const timing = animation.effect && animation.effect.getComputedTiming();
      if (timing && timing.endTime === Infinity) animation.pause(); else animation.finish();
    } catch (e) { /* an animation the page removed meanwhile */ }
  }
  await nextFrame();
  await nextFrame();
};
settle().then(() => { clearTimeout(timer); done('ready'); },
              () => { clearTimeout(timer); done('error'); });
"""
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


class RenderTimeout(RenderFailed):
    """The page did not finish loading within OGSHOT_RENDER_TIMEOUT."""


class BrowserError(Exception):
    """The browser itself failed (crashed, hung, lost its session): restart it and retry."""


@dataclass(frozen=True)
class Shot:
    """A viewport screenshot and the page's title."""

    png: bytes
    title: str


TITLE_SCRIPT = "return (document.title || '').trim().slice(0, 200);"


class Engine(Protocol):
    """A running browser that turns a URL into a viewport screenshot."""

    name: str

    def screenshot(self, url: str, width: int, height: int, scale: int) -> Shot:
        """Load ``url`` in a width x height CSS-pixel viewport; return a PNG at ``scale``."""

    def close(self) -> None:
        """Stop the browser and its driver; never raises."""


def check_status(status: object, url: str) -> None:
    """Raise RenderFailed for an HTTP error page: an error page is not a preview."""
    if status == -1:
        raise RenderFailed(f"{url} could not be loaded (network error)")
    if isinstance(status, int) and status >= 400:
        raise RenderFailed(f"{url} answered HTTP {status}")


def make_engine(
    name: str,
    render_timeout: float,
    proxy_port: int | None = None,
    binary: Path | None = None,
) -> Engine:
    """Start the named engine (``firefox`` or ``chromium``), behind the egress guard if given.

    ``binary`` replaces the engine's usual executable (Debian's).
    """
    extra = {"binary": str(binary)} if binary else {}
    if name == "firefox":
        from worker.engines.firefox import FirefoxEngine

        return FirefoxEngine(render_timeout, proxy_port, **extra)
    if name == "chromium":
        from worker.engines.chromium import ChromiumEngine

        return ChromiumEngine(render_timeout, proxy_port, **extra)
    raise ValueError(f"unknown engine {name!r}")
