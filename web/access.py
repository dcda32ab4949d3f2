"""One log line per request, written by the app instead of gunicorn's access log.

The image view adds what it knows (page URL, cache key, render task, cache outcome) through
``note``. Replacing gunicorn's own access line halves the lines written per request (each
cost a hit 0.2 to 0.3 ms of CPU under load; docs/benchmarks.md), and the one line left follows
OGSHOT_LOG_FORMAT, which gunicorn's did not.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger("web.access")


def note(**fields: str) -> None:
    """Add ``name=value`` fields to this request's log line."""
    g.access_fields = {**g.get("access_fields", {}), **fields}


def install(app: Flask) -> None:
    """Time every request and log it once it has its response."""

    @app.before_request
    def _start() -> None:
        g.access_started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        fields = g.get("access_fields", {})
        target = fields.pop("url", None) or request.path
        extra = "".join(f" {name}={value}" for name, value in fields.items())
        started = g.get("access_started", time.perf_counter())
        log.info("%s %s%s status=%d ms=%.1f", request.method, target, extra,
                 response.status_code, (time.perf_counter() - started) * 1000)  # fmt: skip
        return response
