"""How an image request is answered, without Flask: resolve → signature → lookup → hit,
stale or miss → wait → fallback, as values.

``ImageService.serve`` takes what the request said (``Ask``) and returns a frozen
``Outcome``; web/image.py routes the request here and turns the outcome into the response
and its headers in one place. The collaborators (storage, single-flight, job store,
versions, limits, the sender) are passed in once, when the app is built.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from ogshot_client.options import check_version
from ogshot_client.signing import verify

from shared.jobs import MISS_QUEUE, Sender
from shared.jobstore import JobStore
from shared.keys import QUERY_NAMES, InvalidOptions, RenderRequest
from shared.metrics import MISS_WAITS
from shared.ratelimit import RateLimited, RateLimits
from shared.redisconn import QueueUnavailable
from shared.singleflight import DONE_OK, SingleFlight
from shared.storage import ImageMeta, Storage, StorageUnavailable, StoredImage
from shared.urlpolicy import RefusedURL, UrlPolicy, url_host
from shared.versions import VersionBook

log = logging.getLogger(__name__)

FALLBACK_MAX_AGE = 30
STALE_MAX_AGE = 60
# The image URL's query options (the format is its extension), to RenderRequest.build's keywords.
OPTIONS = {name: keyword for name, keyword in QUERY_NAMES.items() if name != "format"}


class Kind(enum.Enum):
    """What the answer is (``X-Ogshot-Cache``)."""

    HIT = "hit"  # the stored image, fresh
    STALE = "stale"  # the stored image, older than OGSHOT_CACHE_TTL; a refresh is queued
    MISS = "miss"  # rendered while the request waited
    PREVIOUS = "previous"  # the image from before the URL's version, for a short time
    FALLBACK = "fallback"  # no image: the fallback card, for a short time
    REFUSED = "refused"  # 403: the URL or its signature is refused


class Reason(enum.Enum):
    """Why there is no image (``X-Ogshot-Reason``), or why the request is refused."""

    STORAGE_UNAVAILABLE = "storage unavailable"
    QUEUE_OR_STORAGE_UNAVAILABLE = "queue or storage unavailable"
    RENDER_PENDING = "render pending"
    RENDER_FAILED = "render failed"
    FAILED_RECENTLY = "render failed recently"  # within OGSHOT_FAILURE_TTL
    CLIENT_LIMIT = "client miss limit reached"
    HOST_LIMIT = "host render limit reached"
    QUEUE_FULL = "render queue full"
    WAITERS_BUSY = "all waiting slots busy"
    REFUSED = "refused"  # the detail says what

    @property
    def nothing_to_come(self) -> bool:
        """Whether no image is on its way (the fallback card says so)."""
        return self in (Reason.RENDER_FAILED, Reason.FAILED_RECENTLY)


@dataclass(frozen=True)
class Conditional:
    """A request's If-None-Match: strong entity tags, or ``*``."""

    tags: frozenset[str] = frozenset()
    star: bool = False

    def __bool__(self) -> bool:
        return self.star or bool(self.tags)

    def matches(self, sha256: str) -> bool:
        """Whether the client has the image of this digest."""
        return self.star or sha256 in self.tags


@dataclass(frozen=True)
class Ask:
    """What an image request says: the page URL (still percent-encoded if ``quoted``), the
    format of its extension, its query string, and how it asks."""

    spec: str
    fmt: str | None
    query: bytes
    quoted: bool
    head: bool = False
    if_none_match: Conditional = Conditional()
    client: str = "unknown"


@dataclass(frozen=True)
class Outcome:
    """The answer to an image request, before it is HTTP."""

    kind: Kind
    request: RenderRequest | None = None
    key: str = ""
    meta: ImageMeta | None = None
    data: bytes | None = None  # None with ``meta``: HEAD, or the client has it
    max_age: int = FALLBACK_MAX_AGE
    reason: Reason | None = None
    detail: str = ""  # a refusal's one line
    job_id: str = "-"


# What resolve makes of an image URL: the request, its key, its version ("" without).
Resolved = tuple[RenderRequest, str, str]


class ImageService:
    """Answers image requests; one per web process."""

    def __init__(
        self,
        *,
        policy: UrlPolicy,
        storage: Storage,
        flight: SingleFlight,
        jobs: JobStore,
        versions: VersionBook,
        limits: RateLimits,
        send: Sender,
        waiters: threading.BoundedSemaphore,
        signing_keys: tuple[str, ...],
        require_signature: bool,
        cache_ttl: float,
        miss_wait: float,
        max_queue: int,
    ) -> None:
        self.policy, self.storage, self.flight, self.jobs = policy, storage, flight, jobs
        self.versions, self.limits, self.send, self.waiters = versions, limits, send, waiters
        self.signing_keys, self.require_signature = signing_keys, require_signature
        self.cache_ttl, self.miss_wait, self.max_queue = cache_ttl, miss_wait, max_queue
        # What resolve does (normalize, parse and check the options and the signature,
        # apply the sites file, hash the key) depends on the path and query alone and on
        # settings fixed for the process's life, and was most of a hit's own work
        # (docs/benchmarks.md): a crawler asking for a hot image again gets the answer from
        # memory. Refusals raise, and are not remembered.
        self.resolve: Callable[[str, str | None, bytes, bool], Resolved] = functools.lru_cache(
            maxsize=4096
        )(self._resolve)

    def serve(self, ask: Ask) -> Outcome:
        """Answer ``ask``. Bad input raises InvalidURL or InvalidOptions (400)."""
        try:
            wanted, key, version = self.resolve(ask.spec, ask.fmt, ask.query, ask.quoted)
        except RefusedURL as exc:
            return Outcome(Kind.REFUSED, reason=Reason.REFUSED, detail=str(exc))
        return self._lookup(ask, wanted, key, version)

    def _resolve(self, spec: str, fmt: str | None, query: bytes, quoted: bool) -> Resolved:
        """The request, key and version of an image URL. The version (``v=``) is not part
        of the request or its key: an image URL with a new version names the same image,
        which must show the page as it is now."""
        raw_url = unquote_plus(spec) if quoted else spec
        url = self.policy.normalize(raw_url)
        args: dict[str, list[str]] = {}
        for name, value in parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True):
            args.setdefault(name, []).append(value)
        given: dict[str, Any] = {
            keyword: args[name] if name == "hide" else args[name][0]
            for name, keyword in OPTIONS.items()
            if name in args
        }
        wanted = RenderRequest.build(url, format=fmt, **given)
        version = _version(args.get("v", []))
        # The site signed what it wrote; the sites file's defaults come after, under its options.
        self._check_signature(args.get("s", [""])[0], raw_url, wanted, version)
        if defaults := self.policy.site_defaults(url):
            wanted = RenderRequest.build(url, format=fmt, **{**defaults, **given})
        return wanted, wanted.cache_key(), version

    def _check_signature(
        self, signature: str, raw_url: str, wanted: RenderRequest, version: str
    ) -> None:
        """Refuse (403) a missing signature when required, and a wrong one always."""
        if not signature:
            if self.require_signature:
                raise RefusedURL("this server serves signed image URLs only: s= is missing")
            return
        if not self.signing_keys or not verify(
            self.signing_keys, signature, raw_url, wanted, version
        ):
            raise RefusedURL("the signature (s=) does not match this URL and its options")

    def _read(self, ask: Ask, key: str) -> tuple[ImageMeta, bytes | None]:
        """The stored image's metadata, and its bytes unless the request needs none (HEAD,
        or a conditional request for the image the client has)."""
        if ask.head or ask.if_none_match:
            meta = self.storage.head(key)
            if ask.head or ask.if_none_match.matches(meta.sha256):
                return meta, None
        stored = self.storage.get(key)
        return stored.meta, stored.data

    def _lookup(self, ask: Ask, wanted: RenderRequest, key: str, version: str) -> Outcome:
        try:
            meta, data = self._read(ask, key)
            if version and version not in meta.versions:
                # Perhaps only this process's memory has not heard of the render that knows it.
                meta, data = self._read(ask, self._forgotten(key))
        except FileNotFoundError:
            meta, data = None, None
        except StorageUnavailable as exc:
            log.warning("storage unavailable for key=%s: %s", key, exc)
            return Outcome(Kind.FALLBACK, wanted, key, reason=Reason.STORAGE_UNAVAILABLE)
        if meta is not None and (not version or version in meta.versions):
            return self._hit(wanted, key, meta, data)
        # A miss, or a version the stored image does not show (a miss for the page as it is
        # now): only now resolve the host, so nothing is queued for a private address.
        try:
            self.policy.check_addresses(wanted.url)
        except RefusedURL as exc:
            return Outcome(Kind.REFUSED, wanted, key, reason=Reason.REFUSED, detail=str(exc))
        job = _Job()
        rendered = self._render_and_wait(ask, wanted, key, version, job)
        if isinstance(rendered, StoredImage):
            return Outcome(Kind.MISS, wanted, key, rendered.meta, rendered.data,
                           self._max_age(rendered.meta), job_id=job.id)  # fmt: skip
        if meta is None:
            return Outcome(Kind.FALLBACK, wanted, key, reason=rendered, job_id=job.id)
        # The image from before the version, for as short a time as the fallback (never for
        # long: a platform would keep it under the new URL as long as it is told). It shows
        # the page as it was, which says more than a fallback card (docs/pages.md).
        return Outcome(Kind.PREVIOUS, wanted, key, meta, data, reason=rendered, job_id=job.id)

    def _forgotten(self, key: str) -> str:
        """Drop ``key`` from this process's memory, so the next read asks the store; return it."""
        hot = getattr(self.storage, "hot", None)
        if hot is not None:
            hot.discard(key)
        return key

    def _hit(self, wanted: RenderRequest, key: str, meta: ImageMeta, data: bytes | None) -> Outcome:
        if meta.age() < self.cache_ttl:
            return Outcome(Kind.HIT, wanted, key, meta, data, self._max_age(meta))
        # Stale: serve it anyway (never a blank for a crawler) and refresh it once.
        # Forced: a worker with a longer TTL than this web must still render it. Not while
        # a refresh that failed is remembered (OGSHOT_FAILURE_TTL): the page is broken now.
        job_id = "-"
        try:
            if self.jobs.recent_failure(key) is None:
                job_id = self.flight.start(key, self._sender(wanted, force=True))[0]
        except (QueueUnavailable, RateLimited) as exc:
            log.warning("cannot queue refresh of key=%s: %s", key, exc)
        return Outcome(Kind.STALE, wanted, key, meta, data, STALE_MAX_AGE, job_id=job_id)

    def _max_age(self, meta: ImageMeta) -> int:
        return max(0, int(self.cache_ttl - meta.age()))

    def _sender(self, wanted: RenderRequest, *, force: bool = False) -> Callable[[str], None]:
        """Return ``send(job_id)``, which queues the render unless the host is over its limit."""
        payload = {**wanted.to_payload(), "force": force}

        def send(job_id: str) -> None:
            if not self.limits.allow_host_render(url_host(wanted.url)):
                raise RateLimited(Reason.HOST_LIMIT.value)
            self.send(payload, job_id)

        return send

    def _refusal(self, ask: Ask, key: str) -> Reason | None:
        """Why a miss must not queue anything now, if it must not."""
        if self.jobs.recent_failure(key) is not None:
            # A render of it failed within OGSHOT_FAILURE_TTL: a crawler batch over broken
            # pages costs one render per page, not one per fetch.
            return Reason.FAILED_RECENTLY
        if not self.limits.allow_client_miss(ask.client):
            return Reason.CLIENT_LIMIT
        if self.jobs.queue_lengths((MISS_QUEUE,))[MISS_QUEUE] >= self.max_queue:
            return Reason.QUEUE_FULL
        return None

    def _render_and_wait(
        self, ask: Ask, wanted: RenderRequest, key: str, version: str, job: _Job
    ) -> StoredImage | Reason:
        """Make sure one job renders ``key``; wait for it if a waiting slot is free.

        With a ``version``, the render must be one that starts after this request (forced:
        the stored image may be fresh, but it is of the page before the version), and the
        image it stores must show that version. Return the image, or why there is none yet.
        """
        send = self._sender(wanted, force=bool(version))
        try:
            refusal = self._refusal(ask, key)
            if refusal:
                return refusal
            if version:
                self.versions.want(key, version)
            if not self.waiters.acquire(blocking=False):
                job.id = self.flight.start(key, send)[0]
                return Reason.WAITERS_BUSY
            try:
                return self._wait_for_render(key, send, version, job)
            finally:
                self.waiters.release()
        except RateLimited:
            return Reason.HOST_LIMIT
        except (QueueUnavailable, StorageUnavailable, FileNotFoundError) as exc:
            log.warning("miss for key=%s not served: %s", key, exc)
            return Reason.QUEUE_OR_STORAGE_UNAVAILABLE

    def _wait_for_render(
        self, key: str, send: Callable[[str], None], version: str, job: _Job
    ) -> StoredImage | Reason:
        deadline = time.monotonic() + self.miss_wait
        with self.flight.subscription(key) as wait:
            # Subscribed first: a render that ends from here on is heard, one that ended
            # before is in storage.
            try:
                stored = self.storage.get(key)
                if not version or version in stored.meta.versions:
                    return stored
            except FileNotFoundError:
                pass
            while True:
                job.id, queued = self.flight.start(key, send)
                log.debug("waiting for key=%s job=%s queued=%s", key, job.id, queued)
                outcome = wait(deadline - time.monotonic())
                if outcome != DONE_OK:
                    break
                stored = self.storage.get(self._forgotten(key) if version else key)
                if not version or version in stored.meta.versions:
                    break
                # That render started before the version was asked for; the one that
                # follows it (worker/lifecycle.py) records it.
        MISS_WAITS.labels(
            "timeout" if outcome is None else "image" if outcome == DONE_OK else "failed"
        ).inc()
        if outcome is None:
            return Reason.RENDER_PENDING
        if outcome != DONE_OK:
            return Reason.RENDER_FAILED
        return stored


class _Job:
    """The id of the job a miss started or joined, for the access log ("-": none)."""

    id = "-"


def _version(given: list[str]) -> str:
    """The image URL's version: "" without one; one valid token, else 400."""
    if len(given) > 1:
        raise InvalidOptions("v must be given once")
    return check_version(given[0]) if given else ""
