"""The admin's session, CSRF tokens and login throttling: what every admin view relies on,
apart from the views (web/admin.py).

One session cookie (Secure over HTTPS, HttpOnly, SameSite=Lax), opened only under /admin; a
CSRF token per session, checked on every POST; at most LOGIN_ATTEMPTS logins per client
address per LOGIN_WINDOW seconds, counted in Redis; strict security headers on every page.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Flask, Request, Response, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from shared.redisconn import QueueUnavailable, translated
from web import services

LOGIN_ATTEMPTS = 10  # per client address and window
LOGIN_WINDOW = 600
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS; only the admin
    pages have a session."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure

    def open_session(self, app: Flask, request: Request) -> Any:
        # Everything else (an image hit above all) would pay for a signing serializer and a
        # cookie read it never uses: about a fifth of a hit (docs/benchmarks.md).
        if not request.path.startswith("/admin"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def open_sessions(app: Flask, secret_key: str) -> None:
    """Give ``app`` the admin's session cookie."""
    app.secret_key = secret_key
    app.session_interface = SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")


def csrf_token() -> str:
    """Return this session's CSRF token, making one if needed."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def guard(login_endpoint: str) -> Response | None:
    """Refuse a POST without this session's CSRF token; send anyone not logged in to the
    login page (``login_endpoint`` itself excepted)."""
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if (
            not hmac.compare_digest(sent.encode(), str(session.get("csrf", "")).encode())
            or not sent
        ):
            return Response("CSRF token missing or wrong\n", status=400, mimetype="text/plain")
    if request.endpoint != login_endpoint and not session.get("admin"):
        return redirect(url_for(login_endpoint, next=request.full_path))  # type: ignore[return-value]
    return None


def secured(response: Response) -> Response:
    """``response`` with the admin's security headers."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def login_allowed() -> bool:
    """Count this login attempt; tell whether it is within the client's allowance."""
    client = services().flight.client
    counter = f"ogshot:login:{request.remote_addr}"
    try:
        with translated():
            attempts = int(client.incr(counter))
            if attempts == 1:
                client.expire(counter, LOGIN_WINDOW)
    except QueueUnavailable:
        return False  # no Redis, no counting: refuse rather than allow unbounded guessing
    return attempts <= LOGIN_ATTEMPTS


def log_in(password: str) -> bool:
    """Start an admin session if ``password`` is the admin password (constant time)."""
    expected = services().config.admin_password
    if not hmac.compare_digest(password.encode(), expected.encode()):
        return False
    session.clear()
    session["admin"] = True
    csrf_token()
    return True
