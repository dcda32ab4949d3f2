"""Browser engines behind one small interface, and the errors they are translated into.

Nothing outside this package imports selenium or marionette_driver. The package's parts:
errors.py, page.py (value types, the Engine interface), readiness.py, scripts.py (and js/);
each engine's own module; contexts.py, launch.py and bidi.py for renders at once.
"""

from __future__ import annotations

from pathlib import Path

from worker.engines.errors import BrowserError, RenderFailed, RenderRejected, RenderTimeout
from worker.engines.page import (
    DEFAULT_READY_TIMEOUT,
    MAX_ELEMENT_PIXELS,
    PLAIN,
    PRODUCT_TOKEN,
    Engine,
    EngineOptions,
    PageOptions,
    Shot,
    check_status,
    element_box,
    same_document,
    user_agent,
)
from worker.engines.readiness import (
    POLL_SECONDS,
    QUIET_SECONDS,
    PageSteps,
    await_ready,
    next_look,
    settled,
)
from worker.engines.scripts import (
    ACTIVITY_SCRIPT,
    AGENT_SCRIPT,
    CONTENT_FUNCTION,
    ELEMENT_SCRIPT,
    HIDE_SCRIPT,
    MAX_REDIRECTS,
    PAGE_SCRIPT,
    SETTLE_SCRIPT,
    SHOWN_SCRIPT,
    STATUS_SCRIPT,
    VIEWPORT_SCRIPT,
)

__all__ = [
    "ACTIVITY_SCRIPT", "AGENT_SCRIPT", "CONTENT_FUNCTION", "DEFAULT_READY_TIMEOUT",
    "ELEMENT_SCRIPT", "HIDE_SCRIPT", "MAX_ELEMENT_PIXELS", "MAX_REDIRECTS", "PAGE_SCRIPT",
    "PLAIN", "POLL_SECONDS", "PRODUCT_TOKEN", "QUIET_SECONDS", "SETTLE_SCRIPT",
    "SHOWN_SCRIPT", "STATUS_SCRIPT", "VIEWPORT_SCRIPT", "BrowserError", "Engine",
    "EngineOptions", "PageOptions", "PageSteps", "RenderFailed", "RenderRejected",
    "RenderTimeout", "Shot", "await_ready", "check_status", "element_box", "make_engine",
    "next_look", "same_document", "settled", "user_agent",
]  # fmt: skip


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
