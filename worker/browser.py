"""One warm browser per worker process, restarted after N renders or any browser failure."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from shared.metrics import BROWSER_RESTARTS
from worker.engines import Engine, RenderFailed, RenderTimeout, Shot

log = logging.getLogger(__name__)


class WarmBrowser:
    """Keeps one engine running and hands it job after job."""

    def __init__(self, name: str, factory: Callable[[], Engine], max_renders: int) -> None:
        self.name = name
        self._factory = factory
        self._max_renders = max_renders
        self._engine: Engine | None = None
        self._renders = 0
        self.restarts = 0
        # A warm-up thread and the task may both reach for the engine at start.
        self._lock = threading.Lock()

    def _get(self) -> Engine:
        if self._engine is None:
            self._engine = self._factory()
            self._renders = 0
        return self._engine

    def warm(self) -> None:
        """Start the browser now so the first job does not pay for it."""
        with self._lock:
            self._get()

    def screenshot(self, url: str, width: int, height: int, scale: int) -> Shot:
        """Take a screenshot with the warm engine, replacing the engine when it fails."""
        with self._lock:
            engine = self._get()
            try:
                shot = engine.screenshot(url, width, height, scale)
            except RenderTimeout:
                # The page may still be running (an endless script): start afresh next time.
                self._discard("timeout")
                raise
            except RenderFailed:
                raise  # the page's fault: the browser is fine
            except BaseException:
                # Crashed, hung or interrupted mid-command (a soft time limit): its state is
                # unknown, so the next job gets a fresh one.
                self._discard("failure")
                raise
            self._renders += 1
            if self._renders >= self._max_renders:
                self._discard("max_renders")
            return shot

    def _discard(self, reason: str) -> None:
        if self._engine is not None:
            log.info("restarting %s browser: %s", self.name, reason)
            BROWSER_RESTARTS.labels(self.name, reason).inc()
            self._engine.close()
            self._engine = None
            self.restarts += 1

    def close(self) -> None:
        """Stop the browser."""
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None
