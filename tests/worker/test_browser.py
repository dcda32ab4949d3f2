"""WarmBrowser with an in-memory engine (a real Engine implementation, not a mock)."""

from __future__ import annotations

import pytest

from worker.browser import WarmBrowser
from worker.engines import BrowserError, RenderFailed, RenderTimeout, Shot


class CountingEngine:
    """An engine that returns fixed bytes and can be told to fail."""

    name = "counting"

    def __init__(self, number: int, failures: dict[str, Exception]) -> None:
        self.number = number
        self.failures = failures
        self.closed = False

    def screenshot(self, url: str, width: int, height: int, scale: int) -> Shot:
        if url in self.failures:
            raise self.failures[url]
        return Shot(f"{self.number}:{url}".encode(), "title")

    def close(self) -> None:
        self.closed = True


class Factory:
    """Makes numbered engines and remembers them."""

    def __init__(self, failures: dict[str, Exception] | None = None) -> None:
        self.made: list[CountingEngine] = []
        self.failures = failures or {}

    def __call__(self) -> CountingEngine:
        engine = CountingEngine(len(self.made), self.failures)
        self.made.append(engine)
        return engine


def test_one_engine_serves_many_renders() -> None:
    """The engine is started once and reused."""
    factory = Factory()
    browser = WarmBrowser("counting", factory, max_renders=100)
    assert [browser.screenshot(f"u{i}", 1, 1, 1).png for i in range(3)] == [
        b"0:u0",
        b"0:u1",
        b"0:u2",
    ]
    assert len(factory.made) == 1


def test_restart_after_max_renders() -> None:
    """After max_renders the engine is closed and the next render gets a new one."""
    factory = Factory()
    browser = WarmBrowser("counting", factory, max_renders=2)
    outputs = [browser.screenshot("u", 1, 1, 1).png for _ in range(5)]
    assert outputs == [b"0:u", b"0:u", b"1:u", b"1:u", b"2:u"]
    assert factory.made[0].closed
    assert factory.made[1].closed


def test_browser_failure_replaces_the_engine() -> None:
    """A browser error closes the engine; the next render starts a fresh one."""
    factory = Factory({"crash": BrowserError("gone")})
    browser = WarmBrowser("counting", factory, max_renders=100)
    with pytest.raises(BrowserError):
        browser.screenshot("crash", 1, 1, 1)
    assert factory.made[0].closed
    assert browser.screenshot("ok", 1, 1, 1).png == b"1:ok"
    assert browser.restarts == 1


def test_page_failure_keeps_the_engine() -> None:
    """A page's own failure (HTTP error, timeout) does not cost a browser restart."""
    factory = Factory({"bad": RenderFailed("HTTP 500")})
    browser = WarmBrowser("counting", factory, max_renders=100)
    with pytest.raises(RenderFailed):
        browser.screenshot("bad", 1, 1, 1)
    assert browser.screenshot("ok", 1, 1, 1).png == b"0:ok"
    assert browser.restarts == 0


def test_timeout_restarts_the_engine() -> None:
    """After a page timed out the engine is replaced (the page may still be running)."""
    factory = Factory({"slow": RenderTimeout("too slow")})
    browser = WarmBrowser("counting", factory, max_renders=100)
    with pytest.raises(RenderTimeout):
        browser.screenshot("slow", 1, 1, 1)
    assert factory.made[0].closed
    assert browser.screenshot("ok", 1, 1, 1).png == b"1:ok"
