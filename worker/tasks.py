"""The render task: thin, idempotent, with its reliability settings on the decorator.

It reads as its steps: take the job's key (worker/lifecycle.py), then, while the job runs,
find the stored image fresh or render and store a new one (worker/publish.py).
"""

from __future__ import annotations

from typing import Any

from celery import Task

from shared.jobs import MISS_QUEUE, PREWARM_QUEUE, RENDER_TASK, RETRY_BACKOFF_MAX, RenderResult
from shared.keys import RenderRequest
from worker.celery_app import app, config
from worker.lifecycle import TRANSIENT_ERRORS, Delivery
from worker.process import state
from worker.publish import is_fresh, render_and_store


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
    of the same key, so it renders once, after both; it always renders (``force``), as
    does a miss for a version the stored image does not show.
    """
    request = RenderRequest.from_payload(payload)
    current = state()

    def follow_up(job_id: str) -> None:
        forced = {**request.to_payload(), "force": True}
        self.apply_async(args=[forced], task_id=job_id, queue=MISS_QUEUE)

    job = Delivery(
        current, str(self.request.id), request, payload, config.browser, follow_up=follow_up
    )

    def requeue() -> object:
        return self.apply_async(args=[payload], task_id=job.job_id, queue=PREWARM_QUEUE)

    if not job.take_key(requeue):
        return job.result
    with job.running(last_try=self.request.retries >= (self.max_retries or 0)):
        if not payload.get("force") and is_fresh(current.storage, job.key, config.cache_ttl):
            job.found_fresh()
        else:
            job.rendered(render_and_store(current, request, job.key, job.announce))
    return job.result
