"""``/image``: serve from storage, or queue one render and wait a bounded time for it."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from flask import Blueprint, Response, g, request
from ogshot_client.options import check_version
from ogshot_client.signing import verify
from werkzeug.http import http_date

from shared.imaging import ON_ITS_WAY, UNAVAILABLE, fallback_image
from shared.jobs import MISS_QUEUE
from shared.keys import CONTENT_TYPES, FORMATS, QUERY_NAMES, InvalidOptions, RenderRequest
from shared.metrics import FALLBACKS, IMAGE_REQUESTS, MISS_WAITS
from shared.ratelimit import RateLimited
from shared.redisconn import QueueUnavailable
from shared.singleflight import DONE_OK
from shared.storage import ImageMeta, StorageUnavailable, StoredImage
from shared.urlpolicy import InvalidURL, RefusedURL, url_host
from web import Resolve, Services, access, services

log = logging.getLogger(__name__)
bp = Blueprint("image", __name__)

PREFIX = "/image/"
FALLBACK_MAX_AGE = 30
STALE_MAX_AGE = 60


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
    wanted, key, version = svc.resolve(spec, fmt, request.query_string, quoted)
    response = _lookup(svc, wanted, key, version)
    outcome = response.headers.get("X-Ogshot-Cache", "none")
    _counter(outcome).inc()
    access.note(url=wanted.url, key=key, task=g.get("job_id", "-"), cache=outcome)
    return response


# The counter of each outcome, looked up once (labels() takes a lock and builds a key).
_counter = functools.lru_cache(maxsize=None)(IMAGE_REQUESTS.labels)


def resolver(svc: Services) -> Resolve:
    """Return ``resolve(page URL, format, query string, quoted) -> (request, cache key,
    version)`` for the image routes, which remembers its answers for the most recent image
    URLs. The version (``v=``, "" without) is not part of the request or its key: an image
    URL with a new version names the same image, which must show the page as it is now.

    What it does (normalize, parse and check the options and the signature, apply the sites
    file, hash the key) depends on the request's path and query alone and on settings fixed
    for the process's life, and was most of a hit's own work (docs/benchmarks.md): a crawler
    asking for a hot image again gets the answer from memory. Refusals raise, and are not
    remembered.
    """

    @functools.lru_cache(maxsize=4096)
    def resolve(
        spec: str, fmt: str | None, _query: bytes, quoted: bool
    ) -> tuple[RenderRequest, str, str]:
        # _query is the key for request.args, which is parsed from it.
        raw_url = unquote_plus(spec) if quoted else spec
        url = svc.policy.normalize(raw_url)
        args = request.args
        given: dict[str, Any] = {
            keyword: args.getlist(name) if name == "hide" else args.get(name)
            for name, keyword in OPTIONS.items()
            if name in args
        }
        wanted = RenderRequest.build(url, format=fmt, **given)
        version = _version(args.getlist("v"))
        # The site signed what it wrote; the sites file's defaults come after, under its options.
        _check_signature(svc, raw_url, wanted, version)
        if defaults := svc.policy.site_defaults(url):
            wanted = RenderRequest.build(url, format=fmt, **{**defaults, **given})
        return wanted, wanted.cache_key(), version

    return resolve


def _version(given: list[str]) -> str:
    """The image URL's version: "" without one; one valid token, else 400."""
    if len(given) > 1:
        raise InvalidOptions("v must be given once")
    return check_version(given[0]) if given else ""


# The image URL's query options (the format is its extension), to RenderRequest.build's keywords.
OPTIONS = {name: keyword for name, keyword in QUERY_NAMES.items() if name != "format"}


def _check_signature(svc: Services, raw_url: str, wanted: RenderRequest, version: str) -> None:
    """Refuse (403) a missing signature when required, and a wrong one always."""
    signature = request.args.get("s", "")
    if not signature:
        if svc.config.require_signature:
            raise RefusedURL("this server serves signed image URLs only: s= is missing")
        return
    if not svc.config.signing_keys or not verify(
        svc.config.signing_keys, signature, raw_url, wanted, version
    ):
        raise RefusedURL("the signature (s=) does not match this URL and its options")


def _read(svc: Services, key: str) -> tuple[ImageMeta, bytes | None]:
    """The stored image's metadata, and its bytes unless the request needs none (HEAD, or
    a conditional request for the image the client has)."""
    if request.method == "HEAD" or request.if_none_match:
        meta = svc.storage.head(key)
        if request.method == "HEAD" or request.if_none_match.contains(meta.sha256):
            return meta, None
    stored = svc.storage.get(key)
    return stored.meta, stored.data


def _lookup(svc: Services, wanted: RenderRequest, key: str, version: str) -> Response:
    try:
        meta, data = _read(svc, key)
        if version and version not in meta.versions:
            # Perhaps only this process's memory has not heard of the render that knows it.
            meta, data = _read(svc, _forgotten(svc, key))
    except FileNotFoundError:
        meta, data = None, None
    except StorageUnavailable as exc:
        log.warning("storage unavailable for key=%s: %s", key, exc)
        return _fallback(svc, wanted, "storage unavailable")
    if meta is not None and (not version or version in meta.versions):
        return _hit(svc, wanted, key, meta, data)
    # A miss, or a version the stored image does not show (a miss for the page as it is
    # now): only now resolve the host, so nothing is queued for a private address.
    svc.policy.check_addresses(wanted.url)
    outcome = _render_and_wait(svc, wanted, key, version)
    if not isinstance(outcome, str):
        return _image(outcome.meta, outcome.data, "miss", _max_age(svc, outcome.meta))
    if meta is None:
        return _fallback(svc, wanted, outcome)
    # The image from before the version, for as short a time as the fallback (never for
    # long: a platform would keep it under the new URL as long as it is told). It shows the
    # page as it was, which says more than a fallback card (docs/pages.md).
    response = _image(meta, data, "previous", FALLBACK_MAX_AGE)
    response.headers["X-Ogshot-Reason"] = outcome
    return response


def _forgotten(svc: Services, key: str) -> str:
    """Drop ``key`` from this process's memory, so the next read asks the store; return it."""
    hot = getattr(svc.storage, "hot", None)
    if hot is not None:
        hot.discard(key)
    return key


def _hit(
    svc: Services, wanted: RenderRequest, key: str, meta: ImageMeta, data: bytes | None
) -> Response:
    if meta.age() >= svc.config.cache_ttl:
        # Stale: serve it anyway (never a blank for a crawler) and refresh it once.
        # Forced: a worker with a longer TTL than this web must still render it. Not while
        # a refresh that failed is remembered (OGSHOT_FAILURE_TTL): the page is broken now.
        try:
            if svc.jobs.recent_failure(key) is None:
                g.job_id = svc.flight.start(key, _sender(svc, wanted, force=True))[0]
        except (QueueUnavailable, RateLimited) as exc:
            log.warning("cannot queue refresh of key=%s: %s", key, exc)
        return _image(meta, data, "stale", STALE_MAX_AGE)
    return _image(meta, data, "hit", _max_age(svc, meta))


def _max_age(svc: Services, meta: ImageMeta) -> int:
    return max(0, int(svc.config.cache_ttl - meta.age()))


def _image(meta: ImageMeta, data: bytes | None, outcome: str, max_age: int) -> Response:
    headers = {
        "ETag": f'"{meta.sha256}"',
        "Cache-Control": f"public, max-age={max_age}",
        "X-Ogshot-Cache": outcome,
        "Last-Modified": _http_date(meta.rendered_at),
    }
    if meta.clipped:
        # An element capture larger than 2400x2400 pixels, cut to that.
        headers["X-Ogshot-Clipped"] = "1"
    if request.if_none_match.contains(meta.sha256):
        return Response(status=304, headers=headers)
    response = Response(data or b"", content_type=meta.content_type, headers=headers)
    if data is None:
        # HEAD: same headers as GET, length from the metadata, no body read.
        response.headers["Content-Length"] = str(meta.size)
    return response


@functools.lru_cache(maxsize=4096)
def _http_date(timestamp: float) -> str:
    # Most hits are of a few hot images: format each one's date once, not on every hit.
    return http_date(timestamp)


def _sender(svc: Services, wanted: RenderRequest, *, force: bool = False) -> Callable[[str], None]:
    """Return ``send(job_id)``, which queues the render unless the host is over its limit."""
    payload = {**wanted.to_payload(), "force": force}

    def send(job_id: str) -> None:
        if not svc.limits.allow_host_render(url_host(wanted.url)):
            raise RateLimited("host render limit reached")
        svc.send(payload, job_id)

    return send


# Reasons for the fallback when there is no image to come (its second line says so).
FAILED = "render failed"
FAILED_RECENTLY = "render failed recently"


def _refusal(svc: Services, key: str) -> str | None:
    """Why a miss must not queue anything now, if it must not."""
    if svc.jobs.recent_failure(key) is not None:
        # A render of it failed within OGSHOT_FAILURE_TTL: a crawler batch over broken pages
        # costs one render per page, not one per fetch.
        return FAILED_RECENTLY
    if not svc.limits.allow_client_miss(request.remote_addr or "unknown"):
        return "client miss limit reached"
    if svc.jobs.queue_lengths((MISS_QUEUE,))[MISS_QUEUE] >= svc.config.max_queue:
        return "render queue full"
    return None


def _render_and_wait(
    svc: Services, wanted: RenderRequest, key: str, version: str
) -> StoredImage | str:
    """Make sure one job renders ``key``; wait for it if a waiting slot is free.

    With a ``version``, the render must be one that starts after this request (forced:
    the stored image may be fresh, but it is of the page before the version), and the
    image it stores must show that version. Return the image, or why there is none yet
    (for X-Ogshot-Reason).
    """
    send = _sender(svc, wanted, force=bool(version))
    try:
        refusal = _refusal(svc, key)
        if refusal:
            return refusal
        if version:
            svc.versions.want(key, version)
        if not svc.waiters.acquire(blocking=False):
            g.job_id = svc.flight.start(key, send)[0]
            return "all waiting slots busy"
        try:
            return _wait_for_render(svc, key, send, version)
        finally:
            svc.waiters.release()
    except RateLimited as exc:
        return str(exc)
    except (QueueUnavailable, StorageUnavailable, FileNotFoundError) as exc:
        log.warning("miss for key=%s not served: %s", key, exc)
        return "queue or storage unavailable"


def _wait_for_render(
    svc: Services, key: str, send: Callable[[str], None], version: str
) -> StoredImage | str:
    deadline = time.monotonic() + svc.config.miss_wait
    with svc.flight.subscription(key) as wait:
        # Subscribed first: a render that ends from here on is heard, one that ended
        # before is in storage.
        try:
            stored = svc.storage.get(key)
            if not version or version in stored.meta.versions:
                return stored
        except FileNotFoundError:
            pass
        while True:
            g.job_id, queued = svc.flight.start(key, send)
            log.debug("waiting for key=%s job=%s queued=%s", key, g.job_id, queued)
            outcome = wait(deadline - time.monotonic())
            if outcome != DONE_OK:
                break
            stored = svc.storage.get(_forgotten(svc, key) if version else key)
            if not version or version in stored.meta.versions:
                break
            # That render started before the version was asked for; the one that follows
            # it (worker/lifecycle.py) records it.
    MISS_WAITS.labels(
        "timeout" if outcome is None else "image" if outcome == DONE_OK else "failed"
    ).inc()
    if outcome is None:
        return "render pending"
    if outcome != DONE_OK:
        return FAILED
    return stored


def _fallback(svc: Services, wanted: RenderRequest, why: str) -> Response:
    FALLBACKS.labels(why).inc()
    if svc.fallback_file is not None:
        data, content_type = svc.fallback_file
    else:
        data, content_type = (
            fallback_image(
                url_host(wanted.url),
                wanted.options.format,
                UNAVAILABLE if why in (FAILED, FAILED_RECENTLY) else ON_ITS_WAY,
            ),
            CONTENT_TYPES[wanted.options.format],
        )
    return Response(
        data,
        mimetype=content_type,
        headers={
            "Cache-Control": f"public, max-age={FALLBACK_MAX_AGE}",
            "X-Ogshot-Cache": "fallback",
            "X-Ogshot-Reason": why,
        },
    )
