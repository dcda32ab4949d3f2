"""One log line per request, written by the app instead of gunicorn's access log.

The image view adds what it knows (page URL, cache key, render task, cache outcome) through
``note``. Replacing gunicorn's own access line halves the lines written per request (each
cost a hit 0.2 to 0.3 ms of CPU under load; docs/benchmarks.md), and the one line left follows
OGSHOT_LOG_FORMAT, which gunicorn's did not.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, request

log = logging.getLogger("web.access")


def note(**fields: str) -> None:
    """Add ``name=value`` fields to this request's log line."""
    g.access_fields = {**g.get("access_fields", {}), **fields}


_STARTED = "ogshot.started"


def install(app: Flask) -> None:
    """Time every request and log it once it has its response."""
    inner = app.wsgi_app

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        # Stamped here rather than in a before_request hook, which cost a hit more.
        environ[_STARTED] = time.perf_counter()
        return inner(environ, start_response)

    app.wsgi_app = timed  # type: ignore[method-assign]

    @app.after_request
    def _log(response: Response) -> Response:
        fields = g.get("access_fields", {})
        target = fields.pop("url", None) or request.path
        extra = "".join(f" {name}={value}" for name, value in fields.items())
        started = request.environ.get(_STARTED) or time.perf_counter()
        log.info("%s %s%s status=%d ms=%.1f", request.method, target, extra,
                 response.status_code, (time.perf_counter() - started) * 1000)  # fmt: skip
        return response
