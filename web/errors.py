"""The one place that maps ogshot's outcomes to HTTP status codes."""

from __future__ import annotations

import logging

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from shared.keys import InvalidOptions
from shared.urlpolicy import InvalidURL, RefusedURL

log = logging.getLogger(__name__)


def plain(status: int, reason: str) -> Response:
    """Answer with a one-line text reason."""
    return Response(reason.splitlines()[0] + "\n", status=status, mimetype="text/plain")


def register(app: Flask) -> None:
    """Install the error handlers."""

    @app.errorhandler(InvalidURL)
    @app.errorhandler(InvalidOptions)
    def bad_request(exc: Exception) -> Response:
        return plain(400, str(exc))

    @app.errorhandler(RefusedURL)
    def refused(exc: RefusedURL) -> Response:
        return plain(403, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        response = plain(exc.code or 500, exc.description or exc.name)
        # Keep what the exception says beyond its text, such as Allow on a 405.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error")
        return plain(500, "internal error")
