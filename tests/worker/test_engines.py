"""Both engines against real browsers and a real page server."""

from __future__ import annotations

import functools
import io
import os
import time

import pytest
from PIL import Image

from tests.helpers import BINARIES, PageServer, close_to, require
from worker.browser import WarmBrowser
from worker.engines import Engine, RenderFailed, make_engine
from worker.reaper import OWNER_ENV, browser_processes

pytestmark = pytest.mark.browser
# With renders in flight beside each test's own (tests/worker/conftest.py) only where
# OGSHOT_TESTS_AT_ONCE=all, for the suite's time.
AT_ONCE: tuple[str, ...] = ()


@pytest.mark.parametrize(
    ("width", "height", "scale"),
    [(1200, 630, 1), (1200, 630, 2), (300, 250, 1), (2400, 1260, 1), (800, 600, 2)],
)
def test_viewport_is_exact(
    engine: Engine, pages: PageServer, width: int, height: int, scale: int
) -> None:
    """The screenshot is width*scale x height*scale, and the page's corners are at its corners."""
    png = engine.screenshot(pages.url("/page/viewport?bg=ff0000"), width, height, scale).png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (width * scale, height * scale)
    square = 100 * scale
    assert close_to(image.getpixel((2, 2)), (0, 0, 255))
    assert close_to(image.getpixel((square - 3, square - 3)), (0, 0, 255))
    assert close_to(image.getpixel((square + 3, square + 3)), (255, 0, 0))
    right, bottom = image.size[0] - 1, image.size[1] - 1
    assert close_to(image.getpixel((right - 2, bottom - 2)), (0, 255, 0))
    assert close_to(image.getpixel((right - square + 3, bottom - square + 3)), (0, 255, 0))
    assert close_to(image.getpixel((right - square - 3, bottom - square - 3)), (255, 0, 0))


def test_smallest_viewport(engine: Engine, pages: PageServer) -> None:
    """200x100, the smallest size accepted, is exact too (Firefox's window minimum is lifted)."""
    png = engine.screenshot(pages.url("/page/small?bg=ff0000"), 200, 100, 1).png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (200, 100)
    assert close_to(image.getpixel((2, 2)), (0, 0, 255))
    assert close_to(image.getpixel((197, 97)), (0, 255, 0))


def test_http_error_page_fails_the_render(engine: Engine, pages: PageServer) -> None:
    """An HTTP error status is a failed render, not a picture of an error page."""
    with pytest.raises(RenderFailed, match="HTTP 404"):
        engine.screenshot(pages.url("/status/404"), 1200, 630, 1)


def test_unreachable_page_fails_the_render(engine: Engine) -> None:
    """A connection error is a failed render, and the browser stays usable."""
    from tests.helpers import free_port

    with pytest.raises(RenderFailed):
        engine.screenshot(f"http://127.0.0.1:{free_port()}/", 1200, 630, 1)


def test_browser_is_reused_after_a_failure(engine: Engine, pages: PageServer) -> None:
    """After a failed page the same browser renders the next page."""
    with pytest.raises(RenderFailed):
        engine.screenshot(pages.url("/status/500"), 1200, 630, 1)
    shot = engine.screenshot(pages.url("/page/after?bg=00ffff"), 1200, 630, 1)
    assert shot.title == "/page/after"
    png = shot.png
    assert close_to(Image.open(io.BytesIO(png)).convert("RGB").getpixel((600, 315)), (0, 255, 255))


def test_more_than_five_redirects_fail_the_render(engine: Engine, pages: PageServer) -> None:
    """The browser itself stops after five redirects of the main document (no proxy here)."""
    with pytest.raises(RenderFailed):
        engine.screenshot(pages.url("/hops/5"), 1200, 630, 1)  # six redirects
    shot = engine.screenshot(pages.url("/hops/4"), 1200, 630, 1)  # five
    assert shot.title == "/page/after-hops"


@pytest.mark.parametrize("name", ["firefox", "chromium"])
def test_endless_script_costs_at_most_the_time_limit(name: str, pages: PageServer) -> None:
    """A page looping forever in JavaScript fails after the page-load limit, and the next
    render (in a fresh browser) works."""
    for binary in BINARIES[name]:
        require(binary)
    browser = WarmBrowser(name, functools.partial(make_engine, name, 3), 100)
    try:
        started = time.monotonic()
        with pytest.raises(RenderFailed):
            browser.screenshot(pages.url("/endless"), 800, 600, 1)
        assert time.monotonic() - started < 30  # the 3 s limit, not forever
        shot = browser.screenshot(pages.url("/page/after-endless"), 800, 600, 1)
        assert shot.title == "/page/after-endless"
    finally:
        browser.close()


@pytest.mark.parametrize("name", ["firefox", "chromium"])
def test_memory_eating_page_costs_at_most_the_time_limit(
    name: str, pages: PageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page that allocates without end and never finishes loading fails at the page-load
    limit; its browser, grown meanwhile, is stopped with every process of it, and the next
    render gets a fresh one."""
    for binary in BINARIES[name]:
        require(binary)
    # Browsers started in this test carry this process's pid (as a worker's do): count them.
    monkeypatch.setenv(OWNER_ENV, str(os.getpid()))
    before = set(browser_processes(owner=os.getpid()))
    browser = WarmBrowser(name, functools.partial(make_engine, name, 3), 100)
    try:
        browser.warm()
        grown = set(browser_processes(owner=os.getpid())) - before
        assert grown
        # A first render at this size, so the 3 s limit falls on the hog's load alone: a just
        # started renderer on a busy machine can take that long to answer the viewport change.
        assert browser.screenshot(pages.url("/page/before-hog"), 800, 600, 1).title
        started = time.monotonic()
        with pytest.raises(RenderFailed, match="in time"):
            browser.screenshot(pages.url("/hog"), 800, 600, 1)
        assert time.monotonic() - started < 30  # the 3 s limit, not until memory runs out
        assert browser.restarts == 1
        # None left behind (Chromium's crash handlers take a moment to follow the browser).
        deadline = time.monotonic() + 10
        while grown & set(browser_processes(owner=os.getpid())):
            assert time.monotonic() < deadline, "the grown browser's processes live on"
            time.sleep(0.2)
        shot = browser.screenshot(pages.url("/page/after-hog"), 800, 600, 1)
        assert shot.title == "/page/after-hog"
    finally:
        browser.close()
