"""One delivery of a render job, from taking its key to telling how it ended.

A job may be delivered more than once (retries, requeues, a worker that died under it). Each
delivery takes the key's lock first, so one key is never rendered twice at once; a pre-warm
first waits out its debounce and a running render of its key. When the delivery ends, the job
store, the waiting requests, the heartbeat and the metrics all hear how.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import KombuError

from shared.imaging import ImagingError
from shared.jobs import RenderResult
from shared.keys import InvalidOptions, RenderRequest
from shared.metrics import REJECTIONS, RENDER_SECONDS, RENDERS
from shared.redisconn import QueueUnavailable
from shared.singleflight import DONE_OK, SingleFlight
from shared.storage import ImageMeta, StorageUnavailable
from shared.urlpolicy import InvalidURL, RefusedURL
from worker.engines import BrowserError, RenderFailed, RenderRejected
from worker.state import WorkerState

log = logging.getLogger(__name__)

# Bounds on a pre-warm's waits before it renders; with the render they fit the soft limit.
DEBOUNCE_WAIT_LIMIT = 10.0
LOCK_WAIT_LIMIT = 10.0
# Deliveries of one job (its retries and requeues included) before it is abandoned.
MAX_DELIVERIES = 12
# Worth another try later: the browser is replaced, a store or Redis may come back.
TRANSIENT_ERRORS = (BrowserError, StorageUnavailable, QueueUnavailable)
# The page could not be rendered (HTTP error, DNS, timeout, a limit) or was no preview: an
# expected outcome, not retried. The job ends failed and the task returns normally, with
# one WARNING line (a traceback is for ogshot's own bugs).
PAGE_FAILURES = (InvalidURL, RefusedURL, RenderFailed, SoftTimeLimitExceeded)
# The job or the screenshot is malformed: ogshot's bug. Not retried; raised, so Celery logs
# the traceback.
PERMANENT_ERRORS = (InvalidOptions, ImagingError)


class Announcement:
    """Tells waiting requests once how a render ended: early when its image is stored."""

    def __init__(self, flight: SingleFlight, key: str) -> None:
        self.flight, self.key, self.sent = flight, key, False

    def __call__(self, outcome: str = DONE_OK) -> None:
        if not self.sent:
            self.flight.publish_done(self.key, outcome)
            self.sent = True


class Delivery:
    """One delivery of the job ``job_id`` rendering ``request``; ``result`` is what it returns."""

    def __init__(
        self,
        current: WorkerState,
        job_id: str,
        request: RenderRequest,
        payload: dict[str, Any],
        engine: str,
        *,
        follow_up: Callable[[str], None] | None = None,
    ) -> None:
        self.current, self.job_id, self.request, self.payload = current, job_id, request, payload
        self.key = request.cache_key()
        self.engine = engine
        # Queues a forced render of the key as job ``id``: for versions asked for while
        # this job rendered, which its image does not record.
        self.follow_up = follow_up
        self.announce = Announcement(current.flight, self.key)
        self.result = RenderResult(
            key=self.key,
            status="busy",
            error="",
            engine=engine,
            render_ms=0,
            size=0,
            readiness="",
            clipped=False,
        )

    def take_key(self, requeue: Callable[[], object]) -> bool:
        """Take the key's lock for this job; False (``result`` says why) if it ends here.

        A pre-warm still waiting for a running render of its key after LOCK_WAIT_LIMIT calls
        ``requeue`` (it goes back to the queue rather than hold this process longer).
        """
        jobs, flight, key, job_id = self.current.jobs, self.current.flight, self.key, self.job_id
        deliveries = jobs.count_delivery(job_id)
        if deliveries > MAX_DELIVERIES:
            # A page that kills its worker every time would otherwise come back for ever.
            reason = f"delivered {deliveries} times without finishing: given up"
            self._failed(reason)
            log.error("render abandoned key=%s task=%s: %s", key, job_id, reason)
            self._ended()
            return self._skip("abandoned")
        if self.payload.get("prewarm"):
            _wait_until_due(jobs.due_in, key, DEBOUNCE_WAIT_LIMIT)
            if not _claim_when_free(flight, key, job_id, LOCK_WAIT_LIMIT):
                requeue()
                return self._skip("requeued")
            jobs.take_pending(key, job_id)
            return True
        if not flight.claim(key, job_id):
            log.info("render skipped key=%s task=%s: another job holds the key", key, job_id)
            jobs.mark(job_id, "done")
            return self._skip("busy")
        return True

    def found_fresh(self) -> None:
        """Record that a fresh image was already stored: nothing to render."""
        self.result["status"] = "fresh"

    def rendered(self, meta: ImageMeta) -> None:
        """Record the stored image's render time and size."""
        self.result["status"] = "rendered"
        self.result["render_ms"] = meta.render_ms
        self.result["size"] = meta.size
        self.result["readiness"] = meta.readiness
        self.result["clipped"] = meta.clipped

    @contextlib.contextmanager
    def running(self, last_try: bool) -> Iterator[None]:
        """Mark the job running; when the block ends, record how, release the key and tell.

        A page failure (PAGE_FAILURES) ends the block normally with ``result`` "failed".
        ``last_try``: no retry follows a transient failure of this delivery.
        """
        jobs, job_id, url = self.current.jobs, self.job_id, self.request.url
        jobs.mark(job_id, "running")
        self.current.heartbeat.doing(job_id, url)
        outcome = "failed"  # what waiting requests hear ("" when a retry follows)
        measured = "failed"  # the outcome label of the render metrics
        started = time.perf_counter()
        try:
            yield
            jobs.mark(
                job_id,
                "done",
                render_ms=self.result["render_ms"],
                readiness=self.result["readiness"],
                clipped=self.result["clipped"],
            )
            outcome, measured = DONE_OK, self.result["status"]
        except PAGE_FAILURES as exc:
            reason = exc.reason if isinstance(exc, RenderRejected) else str(exc)
            if isinstance(exc, RenderRejected):
                REJECTIONS.labels(reason).inc()
            outcome = self._failed(reason)
            log.warning("render failed key=%s task=%s url=%s: %s", self.key, job_id, url, reason)
        except PERMANENT_ERRORS as exc:
            outcome = self._failed(str(exc))
            raise
        except TRANSIENT_ERRORS as exc:
            log.warning("render try failed task=%s url=%s: %s", job_id, url, exc)
            if last_try:
                outcome = self._failed(str(exc))
            else:
                jobs.mark(job_id, "queued", error=str(exc))
                outcome, measured = "", "retry"  # a retry follows: waiting requests keep waiting
            raise
        finally:
            elapsed = time.perf_counter() - started
            RENDERS.labels(self.engine, measured).inc()
            RENDER_SECONDS.labels(self.engine, measured).observe(elapsed)
            self.current.heartbeat.doing("", "")
            self.current.flight.release(self.key, job_id)
            if outcome:
                self.announce(outcome)
                self._ended()
            if outcome == DONE_OK:
                self._follow_up()
        log.info("render %s key=%s task=%s url=%s ms=%d", self.result["status"], self.key,
                 job_id, url, (time.perf_counter() - started) * 1000)  # fmt: skip

    def _failed(self, reason: str) -> str:
        """Record a failed job: its record, the recent failures, the failure memo (no render
        of its key for OGSHOT_FAILURE_TTL), the note on a kept image; return the outcome
        waiting requests hear."""
        jobs, job_id, key = self.current.jobs, self.job_id, self.key
        jobs.mark(job_id, "failed", error=reason)
        jobs.record_failure(job_id, self.request.url, reason)
        jobs.remember_failure(key, reason, self.current.failure_ttl)
        self.current.index.note_failure(key, reason, job_id)
        self.result["status"], self.result["error"] = "failed", reason
        return f"failed: {reason}"

    def _ended(self) -> None:
        """Queue the calls of the webhooks the job gathered (pre-warms only have any)."""
        if not self.payload.get("prewarm"):
            return
        job = {
            "id": self.job_id,
            "url": self.request.url,
            "key": self.key,
            "status": "failed" if self.result["status"] in ("failed", "abandoned") else "done",
            "error": self.result["error"] or None,
            "render_ms": self.result["render_ms"] or None,
        }
        try:
            self.current.webhooks.job_ended(self.job_id, self.key, job)
        except QueueUnavailable as exc:
            log.warning("webhooks of task=%s not queued: %s", self.job_id, exc)

    def _follow_up(self) -> None:
        """Start a render for versions asked for after this one began (none: nothing).

        Not when a pre-warm of the key waits out its debounce: it starts later and records
        them, and a render now would only be one more.
        """
        if self.follow_up is None:
            return
        current = self.current
        try:
            if current.versions.pending(self.key) and not current.jobs.prewarm_pending(self.key):
                job_id, queued = current.flight.start(self.key, self.follow_up)
                log.info("versions wait for key=%s: task=%s queued=%s", self.key, job_id, queued)
        except (QueueUnavailable, KombuError, OSError) as exc:
            # The next request for such a version starts the render itself.
            log.warning("no follow-up render of key=%s: %s", self.key, exc)

    def _skip(self, why: str) -> bool:
        self.result["status"] = why
        return False


def _wait_until_due(due_in: Callable[[str], float], key: str, limit: float) -> None:
    """Sleep while later pre-warms keep pushing this key's start back (at most ``limit``)."""
    deadline = time.monotonic() + limit
    while (left := min(due_in(key), deadline - time.monotonic())) > 0:
        time.sleep(min(left, 0.5))


def _claim_when_free(flight: SingleFlight, key: str, job_id: str, limit: float) -> bool:
    """Take the key's lock, waiting up to ``limit`` for a running render of it to end."""
    deadline = time.monotonic() + limit
    while True:
        with flight.subscription(key) as wait:
            if flight.claim(key, job_id):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Woken by the running render's end; re-checked each second in case it died.
            wait(min(left, 1.0))
