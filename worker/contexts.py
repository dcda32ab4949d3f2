"""One browser, many renders at once (OGSHOT_RENDERS_PER_BROWSER above 1): the worker's
threads share one engine that renders each page in a context of its own
(worker/engines/contexts.py).

The engine is started on first use and replaced: after a browser failure (the renders it
had in flight fail with it, and are retried), and after OGSHOT_BROWSER_MAX_RENDERS renders,
by draining: no render starts on the old browser once the last is handed out, those in
flight finish, then it is stopped and the next render starts a new one. A page's own
failure (an error status, its time limit) stays with its render: its context is gone, the
browser goes on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from worker.browser import PROBE_SIZE, PROBE_URL, BrowserHolder
from worker.engines import PLAIN, BrowserError, PageOptions, RenderFailed, Shot
from worker.engines.contexts import ContextEngine


class SharedBrowser(BrowserHolder[ContextEngine]):
    """WarmBrowser's counterpart for renders at once: ``screenshot`` safe to call from many
    threads."""

    def __init__(
        self,
        name: str,
        factory: Callable[[], ContextEngine],
        max_renders: int,
        give_up_after: int = 0,
        on_give_up: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name, factory, max_renders, give_up_after, on_give_up)
        self._in_flight = 0
        self._draining = False
        self._changed = threading.Condition()

    def _enter(self) -> ContextEngine:
        with self._changed:
            self._changed.wait_for(lambda: not self._draining)
            engine = self._running()
            self._in_flight += 1
            self._renders += 1
            if self._renders >= self._max_renders:
                self._draining = True  # this is the old browser's last render
            return engine

    def _leave(self, engine: ContextEngine, failed: str = "") -> None:
        with self._changed:
            self._in_flight -= 1
            if failed and engine is self._engine:
                # The renders still in flight on it fail with it (and are retried).
                self._discard(failed)
            elif self._draining and self._in_flight == 0:
                self._discard("max_renders")
            self._changed.notify_all()

    def _discard(self, reason: str) -> None:
        super()._discard(reason)
        self._draining = False

    def warm(self) -> None:
        """Start the browser now so the first job does not pay for it."""
        with self._changed:
            self._running()

    def probe(self, max_age: float) -> str:
        """Render a blank page unless the browser showed it works in the last ``max_age`` s
        (renders in flight count: their own limits cover a hung browser). Returns ``state``."""
        if self.state == "ok" and time.monotonic() - self.confirmed_at < max_age:
            return self.state
        if self._in_flight:
            return self.state
        try:
            self.screenshot(PROBE_URL, *PROBE_SIZE)
        except (BrowserError, RenderFailed) as exc:
            self.state = f"failing: {exc}"
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
        """Render in a context of its own on the shared engine (behind the egress guard on
        ``proxy_port``, this render's, if given), returned once the context is gone."""
        with self.rendering(url, width, height, scale, page, proxy_port=proxy_port) as shot:
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
        """``screenshot``'s shot, handed over while its context is removed (the engine's
        ``rendering``); the block ends once it is gone. What the block raises is the
        caller's, never taken for the browser's failure."""
        engine = self._enter()
        failed = ""
        try:
            with contextlib.ExitStack() as stack:
                try:
                    shot = stack.enter_context(
                        engine.rendering(url, width, height, scale, page, proxy_port=proxy_port)
                    )
                except RenderFailed:
                    self._confirm()  # the page's fault: the browser answered
                    raise
                except BrowserError as exc:
                    self.state = f"failing: {exc}"
                    failed = "failure"
                    raise
                except BaseException:
                    failed = "interrupted"  # mid-command: the browser's state is unknown
                    raise
                self._confirm()
                yield shot
        finally:
            self._leave(engine, failed)

    def close(self) -> None:
        """Stop the browser (renders in flight on it fail)."""
        with self._changed:
            self._stop()
