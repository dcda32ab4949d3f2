"""Readiness: how long a loaded page is waited for, and the steps both engines take with
it in one order (PageSteps)."""

from __future__ import annotations

import time
from collections.abc import Callable

from worker.engines.errors import RenderFailed
from worker.engines.page import EngineOptions, PageOptions, Shot
from worker.engines.scripts import HIDE_SCRIPT, SHOWN_SCRIPT

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
