"""Small pages: the index and the liveness probe."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """Explain how to use the service."""
    return render_template("index.html")


@bp.get("/healthz")
def healthz() -> Response:
    """Answer 200 while this web process is up."""
    return Response("ok\n", mimetype="text/plain")
