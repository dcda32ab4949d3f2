"""Admin pages: see, search, re-render and delete cached images; watch the queue.

They exist only when OGSHOT_ADMIN_PASSWORD is set. Plain server-rendered HTML forms; the
session, the CSRF token every changing form carries, the login throttle and the strict CSP
(no inline scripts) are web/adminauth.py's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from shared.config import Config
from shared.index import BY
from shared.jobs import QUEUES
from shared.keys import RenderRequest, thumbnail_key
from shared.redisconn import QueueUnavailable
from shared.storage import ImageMeta, StorageUnavailable
from web import services
from web.adminauth import csrf_token, guard, log_in, login_allowed, open_sessions, secured
from web.prewarm import image_tags, prewarm_one

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
PER_PAGE = 50
_KEY = re.compile(r"^v\d+/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.(png|jpg|webp)$")


def install(app: Flask, config: Config) -> None:
    """Register the admin pages if an admin password is configured."""
    if not config.admin_password:
        return
    open_sessions(app, config.secret_key)
    app.register_blueprint(bp)


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"csrf_token": csrf_token}


@bp.app_template_filter("when")
def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_template_filter("kib")
def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


@bp.before_request
def _guard() -> Response | None:
    return guard("admin.login")


@bp.after_request
def _security_headers(response: Response) -> Response:
    return secured(response)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """Ask for the admin password."""
    if request.method == "GET":
        return render_template("admin/login.html", error=None)
    if not login_allowed():
        page = render_template("admin/login.html", error="Too many attempts; try again later.")
        return Response(page, status=429)
    if not log_in(request.form.get("password", "")):
        page = render_template("admin/login.html", error="Wrong password.")
        return Response(page, status=401)
    return _back_to(request.args.get("next", ""))


def _back_to(target: str) -> Response:
    """Redirect to ``target`` if it is a page of the admin, else to the image list.

    Only paths of this site's admin: never an open redirect.
    """
    if not target.startswith("/admin") or target.startswith("//"):
        target = url_for("admin.images")
    return redirect(target)  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    """Forget the session."""
    session.clear()
    return redirect(url_for("admin.login"))  # type: ignore[return-value]


def _valid_key(key: str) -> str:
    if not _KEY.match(key):
        abort(404)
    return key


@bp.get("/")
def images() -> str:
    """List cached images: newest first, filtered, searched, sorted, paginated."""
    svc = services()
    host = request.args.get("host", "")
    search = request.args.get("q", "").strip()[:200]
    sort = request.args.get("sort", "date")
    sort = sort if sort in BY else "date"
    descending = request.args.get("order", "desc") != "asc"
    page_no = max(1, request.args.get("page", 1, type=int) or 1)
    listing = svc.index.page(
        host=host, search=search, sort=sort, descending=descending,
        offset=(page_no - 1) * PER_PAGE, limit=PER_PAGE,
    )  # fmt: skip
    pages = max(1, -(-listing.total // PER_PAGE))

    def link(**changes: Any) -> str:
        args = {"host": host, "q": search, "sort": sort,
                "order": "desc" if descending else "asc", "page": page_no} | changes  # fmt: skip
        return url_for("admin.images") + "?" + urlencode({k: v for k, v in args.items() if v})

    return render_template(
        "admin/list.html",
        entries=listing.entries,
        total=listing.total,
        hosts=svc.index.hosts(),
        host=host,
        search=search,
        sort=sort,
        descending=descending,
        page=page_no,
        pages=pages,
        link=link,
        ttl=svc.config.cache_ttl,
    )


@bp.get("/image/<path:key>")
def detail(key: str) -> str:
    """Show one image with its metadata, link-card previews and actions."""
    entry = services().index.get(_valid_key(key))
    if entry is None:
        abort(404)
    return render_template(
        "admin/detail.html", entry=entry, meta=entry.meta,
        snippet=image_tags(_request_of(entry.meta)), ttl=services().config.cache_ttl,
        webhook=services().webhooks.last_for(entry.key),
    )  # fmt: skip


@bp.get("/file/<path:key>")
def file(key: str) -> Response:
    """Serve an image (``full``) or its thumbnail to the admin pages."""
    key = _valid_key(key)
    store_key = key if request.args.get("full") else thumbnail_key(key)
    try:
        stored = services().storage.get(store_key)
    except FileNotFoundError:
        abort(404)
    except StorageUnavailable:
        abort(503)
    response = Response(stored.data, mimetype=stored.meta.content_type)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def _request_of(meta: ImageMeta) -> RenderRequest:
    """The request that rendered a stored image."""
    return RenderRequest.build(
        meta.url,
        width=meta.width,
        height=meta.height,
        scale=meta.scale,
        format=meta.format,
        **meta.options,
    )


def _rerender(key: str) -> None:
    entry = services().index.get(key)
    if entry is not None:
        prewarm_one(services(), _request_of(entry.meta))


def _delete(key: str) -> None:
    svc = services()
    svc.storage.delete(key)
    svc.storage.delete(thumbnail_key(key))
    svc.index.remove(key)
    svc.jobs.forget_failure(key)  # the next fetch renders it afresh


def _each(keys: list[str], action: Callable[[str], None], verb: str) -> None:
    try:
        for key in keys:
            action(key)
    except (QueueUnavailable, StorageUnavailable) as exc:
        flash(f"Could not {verb} every image: {exc}", "error")
    else:
        flash(f"{verb.capitalize()}: {len(keys)} image(s).", "ok")


@bp.post("/image/<path:key>/rerender")
def rerender(key: str) -> Response:
    """Queue a forced re-render of one image."""
    _each([_valid_key(key)], _rerender, "re-render")
    return redirect(url_for("admin.detail", key=key))  # type: ignore[return-value]


@bp.post("/image/<path:key>/delete")
def delete(key: str) -> Response:
    """Delete one image (and its thumbnail and index entry)."""
    _each([_valid_key(key)], _delete, "delete")
    return redirect(url_for("admin.images"))  # type: ignore[return-value]


@bp.post("/bulk")
def bulk() -> Response:
    """Re-render or delete the selected images."""
    keys = [_valid_key(k) for k in request.form.getlist("keys")]
    action = request.form.get("action")
    if action == "delete":
        _each(keys, _delete, "delete")
    elif action == "rerender":
        _each(keys, _rerender, "re-render")
    else:
        abort(400)
    return _back_to(request.form.get("back", ""))


@bp.post("/purge")
def purge() -> Response:
    """Delete every image of one host."""
    host = request.form.get("host", "")
    keys = services().index.keys_of_host(host)
    _each(keys, _delete, f"delete {host}")
    return redirect(url_for("admin.images"))  # type: ignore[return-value]


@bp.get("/queue")
def queue() -> str:
    """Jobs waiting per queue, workers online and what they render, recent failures."""
    jobs, webhooks = services().jobs, services().webhooks
    return render_template(
        "admin/queue.html",
        lengths=jobs.queue_lengths(QUEUES),
        workers=jobs.workers(),
        failures=jobs.failures(),
        webhooks=webhooks.recent(),
        webhooks_waiting=webhooks.waiting(),
    )
