"""One warm browser per worker process, restarted after N renders or any browser failure."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

from shared.metrics import BROWSER_RESTARTS
from worker.engines import (
    PLAIN,
    BrowserError,
    Engine,
    PageOptions,
    RenderFailed,
    RenderTimeout,
    Shot,
)

log = logging.getLogger(__name__)


class _Closes(Protocol):
    def close(self) -> None: ...


E = TypeVar("E", bound=_Closes)

# The page a probe renders: no network, so only the browser itself can make it fail.
PROBE_URL = "about:blank"
PROBE_SIZE = (1200, 630, 1)


class BrowserHolder(Generic[E]):
    """One engine started on first use and replaced when asked, and whether it works, for
    the heartbeat and ``ogshot health worker``. Each subclass calls its methods under a
    lock of its own.

    ``state`` is "starting" until the first start, "ok" after a start, render or probe that
    worked, and "failing: why" after one that did not. ``start_failures`` counts failed
    starts in a row; at ``give_up_after`` of them ``on_give_up`` is called once (the worker
    then stops, to be replaced by whatever runs it).
    """

    def __init__(
        self,
        name: str,
        factory: Callable[[], E],
        max_renders: int,
        give_up_after: int = 0,
        on_give_up: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self._factory = factory
        self._engine: E | None = None
        self._renders = 0  # renders started on the current engine
        self._max_renders = max_renders
        self._give_up_after = give_up_after
        self._on_give_up = on_give_up
        self.restarts = 0
        self.start_failures = 0
        self.state = "starting"
        self.confirmed_at = 0.0  # monotonic time the browser last showed that it works

    def _running(self) -> E:
        """The engine, started if none is."""
        if self._engine is None:
            try:
                self._engine = self._factory()
            except BrowserError as exc:
                self._failed_start(str(exc))
                raise
            self.start_failures = 0
            self._renders = 0
            self._confirm()
        return self._engine

    def _failed_start(self, why: str) -> None:
        self.start_failures += 1
        self.state = f"failing: {why}"
        log.error("%s browser did not start (%d in a row): %s", self.name,
                  self.start_failures, why)  # fmt: skip
        if self._on_give_up and self.start_failures == self._give_up_after:
            self._on_give_up(f"{self.name} did not start {self.start_failures} times: {why}")

    def _confirm(self) -> None:
        self.state = "ok"
        self.confirmed_at = time.monotonic()

    def _discard(self, reason: str) -> None:
        """Stop the engine, counted as a restart: the next render starts a new one."""
        if self._engine is not None:
            log.info("restarting %s browser: %s", self.name, reason)
            BROWSER_RESTARTS.labels(self.name, reason).inc()
            self.restarts += 1
            self._stop()

    def _stop(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


class WarmBrowser(BrowserHolder[Engine]):
    """Keeps one engine running and hands it job after job."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], Engine],
        max_renders: int,
        give_up_after: int = 0,
        on_give_up: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name, factory, max_renders, give_up_after, on_give_up)
        # A warm-up thread and the task may both reach for the engine at start.
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Start the browser now so the first job does not pay for it."""
        with self._lock:
            self._running()

    def probe(self, max_age: float) -> str:
        """Render a blank page unless the browser showed it works in the last ``max_age`` s.

        Starts the browser if it is not running. A render in progress counts as alive (its
        time limits cover a hung browser). Returns ``state``.
        """
        if self.state == "ok" and time.monotonic() - self.confirmed_at < max_age:
            return self.state
        if not self._lock.acquire(blocking=False):
            return self.state
        try:
            engine = self._running()
            engine.screenshot(PROBE_URL, *PROBE_SIZE)
            self._confirm()
        except (BrowserError, RenderFailed) as exc:
            if self._engine is not None:  # it started, then failed: a fresh one next time
                self.state = f"failing: {exc}"
                self._discard("probe failed")
        finally:
            self._lock.release()
        return self.state

    def screenshot(
        self,
        url: str,
        width: int,
        height: int,
        scale: int,
        page: PageOptions = PLAIN,
        *,
        proxy_port: int | None = None,
    ) -> Shot:
        """Take a screenshot with the warm engine, replacing the engine when it fails.
        ``proxy_port`` is SharedBrowser's: this browser's one render at a time goes through
        the guard it was started behind."""
        with self._lock:
            engine = self._running()
            try:
                shot = engine.screenshot(url, width, height, scale, page)
            except RenderTimeout:
                # The page may still be running (an endless script): start afresh next time.
                self._discard("timeout")
                raise
            except RenderFailed:
                self._confirm()  # the page's fault: the browser answered
                raise
            except BaseException as exc:
                # Crashed, hung or interrupted mid-command (a soft time limit): its state is
                # unknown, so the next job gets a fresh one.
                if isinstance(exc, BrowserError):
                    self.state = f"failing: {exc}"
                self._discard("failure")
                raise
            self._confirm()
            self._renders += 1
            if self._renders >= self._max_renders:
                self._discard("max_renders")
            return shot

    @contextlib.contextmanager
    def rendering(
        self,
        url: str,
        width: int,
        height: int,
        scale: int,
        page: PageOptions = PLAIN,
        *,
        proxy_port: int | None = None,
    ) -> Iterator[Shot]:
        """``screenshot``'s shot, for a block done before the render's guard goes on, as
        SharedBrowser's: here the page stays in the tab until the next render's."""
        yield self.screenshot(url, width, height, scale, page, proxy_port=proxy_port)

    def close(self) -> None:
        """Stop the browser."""
        with self._lock:
            self._stop()
