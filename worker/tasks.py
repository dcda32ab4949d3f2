"""The render task: thin, idempotent, with its reliability settings on the decorator."""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutdown

from shared.imaging import ImagingError, thumbnail
from shared.jobs import PREWARM_QUEUE, RENDER_TASK, RETRY_BACKOFF_MAX, RenderResult
from shared.jobstore import JobStore
from shared.keys import InvalidOptions, RenderRequest, thumbnail_key
from shared.metrics import RENDER_SECONDS, RENDERS
from shared.redisconn import QueueUnavailable
from shared.singleflight import DONE_OK, SingleFlight
from shared.storage import ImageMeta, Storage, StorageUnavailable
from shared.urlpolicy import InvalidURL, RefusedURL
from worker.celery_app import app, config
from worker.engines import BrowserError, RenderFailed
from worker.reaper import mark_owner, reap_orphans
from worker.render import render
from worker.state import WorkerState, build_state

log = logging.getLogger(__name__)

# Bounds on a pre-warm's waits before it renders; with the render they fit the soft limit.
DEBOUNCE_WAIT_LIMIT = 10.0
LOCK_WAIT_LIMIT = 10.0
# Deliveries of one job (its retries and requeues included) before it is abandoned.
MAX_DELIVERIES = 12
# Worth another try later: the browser is replaced, a store or Redis may come back.
TRANSIENT_ERRORS = (BrowserError, StorageUnavailable, QueueUnavailable)
# The job itself is bad: retrying cannot help.
PERMANENT_ERRORS = (
    InvalidURL,
    RefusedURL,
    InvalidOptions,
    RenderFailed,
    ImagingError,
    SoftTimeLimitExceeded,
)


@functools.cache
def state() -> WorkerState:
    """Build this process's clients and browser once (after the pool forked it)."""
    return build_state(config, on_give_up=_stop_worker)


# Celery's main process imports this module before its pool forks: the pool's processes
# inherit the main process's pid here.
_MAIN_PID = os.getpid()


def _stop_worker(why: str) -> None:
    """Stop the whole worker with a failure exit, so compose or systemd start a new one.

    A worker whose browser cannot start would otherwise take jobs it can never render.
    SIGINT is Celery's warm shutdown with exit status 1: running jobs on other processes end.
    """
    log.critical("stopping the worker: %s", why)
    os.kill(_MAIN_PID, signal.SIGINT)


@worker_process_init.connect
def _warm_up(**_: Any) -> None:
    mark_owner()
    reap_orphans()  # a predecessor killed with SIGKILL left its browser behind

    # In a thread: Celery gives process init only a few seconds, a cold browser needs ~2
    # (more when its start is tried again); the heartbeat starts it, then keeps probing it.
    def warm() -> None:
        try:
            state().heartbeat.start()
        except Exception:
            log.exception("worker start-up failed; the first job will retry it")

    threading.Thread(target=warm, name="ogshot-warm-up", daemon=True).start()


@worker_process_shutdown.connect
def _stop_browser(**_: Any) -> None:
    if state.cache_info().currsize:
        state().browser.close()


class _Announcement:
    """Tells waiting requests once how a render ended: early when its image is stored."""

    def __init__(self, flight: SingleFlight, key: str) -> None:
        self.flight, self.key, self.sent = flight, key, False

    def __call__(self, outcome: str = DONE_OK) -> None:
        if not self.sent:
            self.flight.publish_done(self.key, outcome)
            self.sent = True


def _render_and_store(
    current: WorkerState, request: RenderRequest, key: str, announce: Callable[[], None]
) -> ImageMeta:
    """Render, store the image, ``announce`` it, then store its thumbnail and index it.

    Waiting requests hear of the image as soon as it is stored: the thumbnail (~20 ms) is
    for the admin pages and need not delay a crawler.
    """
    data, meta = render(request, current.browser, current.policy, current.egress)
    current.storage.put(key, data, meta)
    announce()
    small = thumbnail(data)
    current.storage.put(thumbnail_key(key), small, meta.for_thumbnail(small))
    current.index.add(key, meta)
    return meta


def _transient_failure(
    jobs: JobStore, job_id: str, url: str, exc: Exception, last_try: bool
) -> str:
    """Record a failure worth retrying; return what waiting requests should hear (if any)."""
    log.warning("render try failed task=%s url=%s: %s", job_id, url, exc)
    jobs.mark(job_id, "failed" if last_try else "queued", error=str(exc))
    if not last_try:
        return ""  # a retry follows: waiting requests keep waiting for it
    jobs.record_failure(job_id, url, str(exc))
    return f"failed: {exc}"


@worker_shutdown.connect
def _reap_on_exit(**_: Any) -> None:
    # In the main process, once the pool has stopped: a pool process stopped while its browser
    # was still starting (or one that was killed) leaves a browser only this can catch.
    reap_orphans()


def _is_fresh(storage: Storage, key: str) -> bool:
    try:
        return storage.head(key).age() < config.cache_ttl
    except FileNotFoundError:
        return False


def _wait_until_due(jobs: JobStore, key: str, limit: float) -> None:
    """Sleep while later pre-warms keep pushing this key's start back (at most ``limit``)."""
    deadline = time.monotonic() + limit
    while (left := min(jobs.due_in(key), deadline - time.monotonic())) > 0:
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


def _take_key(
    task: Task, current: WorkerState, payload: dict[str, Any], key: str, job_id: str
) -> str | None:
    """Take the key's lock for this job; return why not ("abandoned", "busy", "requeued")."""
    deliveries = current.jobs.count_delivery(job_id)
    if deliveries > MAX_DELIVERIES:
        # A page that kills its worker every time would otherwise come back for ever.
        reason = f"delivered {deliveries} times without finishing: given up"
        current.jobs.mark(job_id, "failed", error=reason)
        current.jobs.record_failure(job_id, str(payload["url"]), reason)
        log.error("render abandoned key=%s task=%s: %s", key, job_id, reason)
        return "abandoned"
    if payload.get("prewarm"):
        _wait_until_due(current.jobs, key, DEBOUNCE_WAIT_LIMIT)
        if not _claim_when_free(current.flight, key, job_id, LOCK_WAIT_LIMIT):
            # Still busy: go back to the queue rather than hold this process longer.
            task.apply_async(args=[payload], task_id=job_id, queue=PREWARM_QUEUE)
            return "requeued"
        current.jobs.take_pending(key, job_id)
        return None
    if not current.flight.claim(key, job_id):
        log.info("render skipped key=%s task=%s: another job holds the key", key, job_id)
        current.jobs.mark(job_id, "done")
        return "busy"
    return None


@app.task(
    name=RENDER_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=config.soft_time_limit,
    time_limit=config.hard_time_limit,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=5,
)
def render_page(self: Task, payload: dict[str, Any]) -> RenderResult:
    """Render one page to storage unless a fresh image or another job already covers it.

    A pre-warm (``prewarm``) first waits out its debounce, then waits for a running render
    of the same key, so it renders once, after both; it always renders (``force``).
    """
    request = RenderRequest.from_payload(payload)
    key = request.cache_key()
    job_id = str(self.request.id)
    current = state()
    result = RenderResult(key=key, status="busy", engine=config.browser, render_ms=0, size=0)
    skipped = _take_key(self, current, payload, key, job_id)
    if skipped:
        result["status"] = skipped
        return result
    current.jobs.mark(job_id, "running")
    current.heartbeat.doing(job_id, request.url)
    outcome = "failed"
    measured = "failed"  # the outcome label of the render metrics
    announce = _Announcement(current.flight, key)
    started = time.perf_counter()
    try:
        if not payload.get("force") and _is_fresh(current.storage, key):
            result["status"] = "fresh"
        else:
            meta = _render_and_store(current, request, key, announce)
            result["status"] = "rendered"
            result["render_ms"] = meta.render_ms
            result["size"] = meta.size
        current.jobs.mark(job_id, "done", render_ms=result["render_ms"])
        outcome = DONE_OK
        measured = result["status"]
    except PERMANENT_ERRORS as exc:
        outcome = f"failed: {exc}"
        current.jobs.mark(job_id, "failed", error=str(exc))
        current.jobs.record_failure(job_id, request.url, str(exc))
        log.warning("render failed key=%s task=%s url=%s: %s", key, job_id, request.url, exc)
        raise
    except TRANSIENT_ERRORS as exc:
        last_try = self.request.retries >= (self.max_retries or 0)
        outcome = _transient_failure(current.jobs, job_id, request.url, exc, last_try)
        measured = "failed" if last_try else "retry"
        raise
    finally:
        elapsed = time.perf_counter() - started
        RENDERS.labels(config.browser, measured).inc()
        RENDER_SECONDS.labels(config.browser, measured).observe(elapsed)
        current.heartbeat.doing("", "")
        current.flight.release(key, job_id)
        if outcome:
            announce(outcome)
    log.info(
        "render %s key=%s task=%s url=%s ms=%d",
        result["status"],
        key,
        job_id,
        request.url,
        (time.perf_counter() - started) * 1000,
    )
    return result
