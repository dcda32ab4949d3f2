"""WarmBrowser with an in-memory engine (a real Engine implementation, not a mock)."""

from __future__ import annotations

import pytest

from worker.browser import WarmBrowser
from worker.engines import PLAIN, BrowserError, PageOptions, RenderFailed, RenderTimeout, Shot


class CountingEngine:
    """An engine that returns fixed bytes and can be told to fail."""

    name = "counting"

    def __init__(self, number: int, failures: dict[str, Exception]) -> None:
        self.number = number
        self.failures = failures
        self.closed = False

    def screenshot(
        self, url: str, width: int, height: int, scale: int, page: PageOptions = PLAIN
    ) -> Shot:
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


@pytest.mark.parametrize(
    ("error", "replaced"),
    [
        # A browser error closes the engine; the next render starts a fresh one.
        (BrowserError("gone"), True),
        # A page's own failure (HTTP error) does not cost a browser restart.
        (RenderFailed("HTTP 500"), False),
        # After a page timed out the engine is replaced (the page may still be running).
        (RenderTimeout("too slow"), True),
    ],
    ids=["browser-error", "page-failure", "timeout"],
)
def test_what_a_failure_does_to_the_engine(error: Exception, replaced: bool) -> None:
    """The render fails with the error; the engine is replaced only for the browser's own
    failures and timeouts, and the next render works either way."""
    factory = Factory({"bad": error})
    browser = WarmBrowser("counting", factory, max_renders=100)
    with pytest.raises(type(error)):
        browser.screenshot("bad", 1, 1, 1)
    assert factory.made[0].closed is replaced
    assert browser.screenshot("ok", 1, 1, 1).png == (b"1:ok" if replaced else b"0:ok")
    assert browser.restarts == int(replaced)


class BrokenFactory:
    """A browser that cannot start (a missing binary, a /dev/null it may not touch)."""

    def __init__(self) -> None:
        self.tries = 0

    def __call__(self) -> CountingEngine:
        self.tries += 1
        raise BrowserError("firefox did not start: [Errno 13] Permission denied")


def test_probe_starts_the_browser_and_renders_a_blank_page() -> None:
    """An idle worker's probe starts the browser and renders about:blank: state "ok"."""
    factory = Factory()
    browser = WarmBrowser("counting", factory, max_renders=100)
    assert browser.state == "starting"
    assert browser.probe(max_age=30) == "ok"
    assert len(factory.made) == 1
    # Seen working a moment ago: no second probe render until max_age has passed.
    factory.failures["about:blank"] = BrowserError("would fail")
    assert browser.probe(max_age=30) == "ok"
    assert browser.probe(max_age=0).startswith("failing: would fail")
    assert factory.made[0].closed  # a browser that failed its probe is replaced


def test_probe_of_a_browser_that_died_while_idle_says_failing_then_recovers() -> None:
    """A dead browser makes the probe fail (unhealthy); the next probe starts a new one."""
    factory = Factory({"about:blank": BrowserError("no session")})
    browser = WarmBrowser("counting", factory, max_renders=100)
    assert browser.probe(max_age=0) == "failing: no session"
    factory.failures.clear()
    assert browser.probe(max_age=0) == "ok"
    assert len(factory.made) == 2


def test_failed_starts_are_counted_and_end_in_giving_up_once() -> None:
    """Each failed start says "failing"; the give-up call comes once, at the limit."""
    given_up: list[str] = []
    browser = WarmBrowser("counting", BrokenFactory(), 100, give_up_after=3,
                          on_give_up=given_up.append)  # fmt: skip
    for attempt in range(1, 5):
        assert browser.probe(max_age=0).startswith("failing: firefox did not start")
        assert browser.start_failures == attempt
    with pytest.raises(BrowserError):
        browser.screenshot("u", 1, 1, 1)
    assert len(given_up) == 1
    assert "did not start 3 times" in given_up[0]


def test_a_start_that_works_resets_the_count() -> None:
    """Failed starts count in a row only: one that works starts the count again."""
    factory = Factory()
    broken = BrokenFactory()
    makers = iter([broken, broken, factory, broken])

    def make() -> CountingEngine:
        return next(makers)()

    browser = WarmBrowser("counting", make, 100, give_up_after=3, on_give_up=pytest.fail)
    for _ in range(2):
        browser.probe(max_age=0)
    assert browser.probe(max_age=0) == "ok"
    assert browser.start_failures == 0
    browser.close()
    assert browser.probe(max_age=0).startswith("failing")
    assert browser.start_failures == 1


def test_page_failure_keeps_the_browser_ok() -> None:
    """A page that fails to load says nothing about the browser: it stays "ok"."""
    factory = Factory({"bad": RenderFailed("HTTP 500")})
    browser = WarmBrowser("counting", factory, max_renders=100)
    with pytest.raises(RenderFailed):
        browser.screenshot("bad", 1, 1, 1)
    assert browser.state == "ok"
    assert not factory.made[0].closed
