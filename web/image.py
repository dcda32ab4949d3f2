"""``/image``: route the request to web/serving.py and turn its outcome into the response."""

from __future__ import annotations

import functools

from flask import Blueprint, Response, request
from werkzeug.http import http_date

from shared.imaging import ON_ITS_WAY, UNAVAILABLE, fallback_image
from shared.keys import CONTENT_TYPES, FORMATS
from shared.metrics import FALLBACKS, IMAGE_REQUESTS
from shared.urlpolicy import InvalidURL, url_host
from web import Services, access, services
from web.errors import plain
from web.serving import FALLBACK_MAX_AGE, Ask, Conditional, Kind, Outcome

bp = Blueprint("image", __name__)

PREFIX = "/image/"


def _raw_path() -> str:
    """Return the request path still percent-encoded.

    The WSGI path is already decoded, which turns %2B into "+" and so a real plus into a
    space under unquote_plus; the raw URI keeps the page URL exactly as the site encoded it.
    """
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        return request.path
    return str(raw).split("?", 1)[0]


@bp.get("/image/<everything:_spec>")
def image_by_path(_spec: str) -> Response:
    """Serve ``/image/<quote_plus(page URL)>.<png|jpg|jpeg|webp>``."""
    path = _raw_path()
    encoded = path[path.find(PREFIX) + len(PREFIX) :]
    stem, dot, ext = encoded.rpartition(".")
    if not dot or ext.lower() not in FORMATS:
        raise InvalidURL("image path must end in .png, .jpg, .jpeg or .webp")
    return _serve(stem, ext, quoted=True)


@bp.get("/image")
def image_by_query() -> Response:
    """Serve ``/image?url=<page URL>&format=png``."""
    return _serve(request.args.get("url", ""), request.args.get("format"), quoted=False)


def _serve(spec: str, fmt: str | None, *, quoted: bool) -> Response:
    """Serve the page URL ``spec`` (still percent-encoded if ``quoted``)."""
    svc = services()
    tags = request.if_none_match
    ask = Ask(
        spec,
        fmt,
        request.query_string,
        quoted,
        head=request.method == "HEAD",
        if_none_match=Conditional(frozenset(tags.as_set()), tags.star_tag) if tags else NO_TAGS,
        client=request.remote_addr or "unknown",
    )
    outcome = svc.images.serve(ask)
    response = _response(svc, outcome, ask)
    if outcome.kind is not Kind.REFUSED:
        _counter(outcome.kind.value).inc()
        assert outcome.request is not None
        access.note(url=outcome.request.url, key=outcome.key, task=outcome.job_id,
                    cache=outcome.kind.value)  # fmt: skip
    return response


# The counter of each outcome, looked up once (labels() takes a lock and builds a key).
_counter = functools.lru_cache(maxsize=None)(IMAGE_REQUESTS.labels)
NO_TAGS = Conditional()


def _response(svc: Services, outcome: Outcome, ask: Ask) -> Response:
    """The one place an outcome becomes HTTP: status, body and headers."""
    if outcome.kind is Kind.REFUSED:
        return plain(403, outcome.detail)
    if outcome.meta is None:
        return _fallback(svc, outcome)
    meta = outcome.meta
    headers = {
        "ETag": f'"{meta.sha256}"',
        "Cache-Control": f"public, max-age={outcome.max_age}",
        "X-Ogshot-Cache": outcome.kind.value,
        "Last-Modified": _http_date(meta.rendered_at),
    }
    if outcome.reason is not None:
        headers["X-Ogshot-Reason"] = outcome.reason.value
    if meta.clipped:
        # An element capture larger than 2400x2400 pixels, cut to that.
        headers["X-Ogshot-Clipped"] = "1"
    if ask.if_none_match.matches(meta.sha256):
        return Response(status=304, headers=headers)
    response = Response(outcome.data or b"", content_type=meta.content_type, headers=headers)
    if outcome.data is None:
        # HEAD: same headers as GET, length from the metadata, no body read.
        response.headers["Content-Length"] = str(meta.size)
    return response


@functools.lru_cache(maxsize=4096)
def _http_date(timestamp: float) -> str:
    # Most hits are of a few hot images: format each one's date once, not on every hit.
    return http_date(timestamp)


def _fallback(svc: Services, outcome: Outcome) -> Response:
    assert outcome.request is not None
    assert outcome.reason is not None
    why, fmt = outcome.reason, outcome.request.options.format
    FALLBACKS.labels(why.value).inc()
    if svc.fallback_file is not None:
        data, content_type = svc.fallback_file
    else:
        card = UNAVAILABLE if why.nothing_to_come else ON_ITS_WAY
        data = fallback_image(url_host(outcome.request.url), fmt, card)
        content_type = CONTENT_TYPES[fmt]
    return Response(
        data,
        mimetype=content_type,
        headers={
            "Cache-Control": f"public, max-age={FALLBACK_MAX_AGE}",
            "X-Ogshot-Cache": Kind.FALLBACK.value,
            "X-Ogshot-Reason": why.value,
        },
    )
