"""SharedBrowser (worker/contexts.py): one engine for renders at once, drained before its
max_renders restart, replaced after a browser failure, kept after a page's own failure.
An engine of this module's stands in for the browser: what is tested is the holder's
bookkeeping, which no real browser makes deterministic."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from worker.contexts import SharedBrowser
from worker.engines import BrowserError, RenderFailed, Shot


class Engine:
    """Renders block until ``release`` is set; ``close`` fails the renders in flight."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.release = threading.Event()
        self.closed = threading.Event()
        self.in_flight = 0
        self.outcome: Exception | None = None

    def screenshot(self, url: str, *_: Any, **__: Any) -> Shot:
        self.in_flight += 1
        try:
            while not self.release.wait(0.01):
                if self.closed.is_set():
                    raise BrowserError("closed under a render")
            if self.outcome is not None:
                raise self.outcome
            return Shot(b"png", f"{url} on {self.number}")
        finally:
            self.in_flight -= 1

    @contextlib.contextmanager
    def rendering(self, url: str, *_: Any, **__: Any) -> Iterator[Shot]:
        yield self.screenshot(url)

    def close(self) -> None:
        self.closed.set()


class Factory:
    def __init__(self) -> None:
        self.made: list[Engine] = []

    def __call__(self) -> Engine:
        self.made.append(Engine(len(self.made)))
        return self.made[-1]


def start(browser: SharedBrowser, url: str, results: dict[str, object]) -> threading.Thread:
    def run() -> None:
        try:
            results[url] = browser.screenshot(url, 1200, 630, 1).title
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[url] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_until(condition: Any) -> None:
    event = threading.Event()
    for _ in range(500):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("the condition never held")


@pytest.fixture
def factory() -> Factory:
    return Factory()


def test_the_last_render_before_a_restart_drains_the_browser(factory: Factory) -> None:
    """With max_renders 2, two renders run at once on the first browser; a third waits
    until both are done and the first browser is stopped, then runs on a second one."""
    browser = SharedBrowser("test", factory, max_renders=2)  # type: ignore[arg-type]
    results: dict[str, object] = {}
    first = [start(browser, url, results) for url in ("a", "b")]
    wait_until(lambda: factory.made and factory.made[0].in_flight == 2)
    third = start(browser, "c", results)
    threading.Event().wait(0.2)
    assert len(factory.made) == 1
    assert not factory.made[0].closed.is_set()
    factory.made[0].release.set()
    for thread in first:
        thread.join(5)
    wait_until(lambda: len(factory.made) == 2)
    assert factory.made[0].closed.is_set()
    factory.made[1].release.set()
    third.join(5)
    assert results == {"a": "a on 0", "b": "b on 0", "c": "c on 1"}
    assert browser.restarts == 1
    assert browser.state == "ok"


def test_a_browser_failure_fails_its_renders_in_flight_and_replaces_it(factory: Factory) -> None:
    """One render's BrowserError stops the browser: the other render in flight on it fails
    too (to be retried), and the next render gets a new browser."""
    browser = SharedBrowser("test", factory, max_renders=100)  # type: ignore[arg-type]
    results: dict[str, object] = {}
    threads = [start(browser, url, results) for url in ("a", "b")]
    wait_until(lambda: factory.made and factory.made[0].in_flight == 2)
    factory.made[0].outcome = BrowserError("crashed")
    factory.made[0].release.set()
    for thread in threads:
        thread.join(5)
    assert all(isinstance(result, BrowserError) for result in results.values()), results
    assert factory.made[0].closed.is_set()
    assert browser.state.startswith("failing")
    later: dict[str, object] = {}
    thread = start(browser, "c", later)
    wait_until(lambda: len(factory.made) == 2)
    factory.made[1].release.set()
    thread.join(5)
    assert later == {"c": "c on 1"}
    assert browser.state == "ok"


def test_a_page_that_fails_keeps_the_browser(factory: Factory) -> None:
    """A page's own failure (an error status, its time limit) stays with its render."""
    browser = SharedBrowser("test", factory, max_renders=100)  # type: ignore[arg-type]
    results: dict[str, object] = {}
    thread = start(browser, "a", results)
    wait_until(lambda: factory.made)
    factory.made[0].outcome = RenderFailed("a: HTTP 500")
    factory.made[0].release.set()
    thread.join(5)
    assert isinstance(results["a"], RenderFailed)
    assert not factory.made[0].closed.is_set()
    assert browser.restarts == 0
    assert browser.state == "ok"


def test_a_browser_that_does_not_start_gives_up_after_so_many_tries() -> None:
    """Failed starts are counted as WarmBrowser counts them: the worker stops at the limit."""
    gave_up: list[str] = []

    def failing() -> Engine:
        raise BrowserError("no display")

    browser = SharedBrowser("test", failing, 10, 2, gave_up.append)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(BrowserError):
            browser.screenshot("a", 1200, 630, 1)
    assert browser.start_failures == 2
    assert len(gave_up) == 1
    assert browser.state == "failing: no display"


def test_what_a_renders_block_raises_keeps_the_browser(factory: Factory) -> None:
    """A failure of the caller's own work with the shot (its encoding, say) is not the
    browser's: the next render runs on the same one."""
    browser = SharedBrowser("test", factory, max_renders=100)  # type: ignore[arg-type]
    browser.warm()
    factory.made[0].release.set()
    with pytest.raises(ValueError, match="a on 0"), browser.rendering("a", 1200, 630, 1) as shot:
        raise ValueError(shot.title)
    assert browser.screenshot("b", 1200, 630, 1).title == "b on 0"
    assert len(factory.made) == 1
    assert browser.state == "ok"
