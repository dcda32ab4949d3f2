"""worker/lifecycle.py on a real Redis, without Celery or a browser: what one delivery of a
render job records, tells waiting requests, releases and queues, for each way it ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import load_config
from shared.keys import RenderRequest
from shared.singleflight import DONE_OK
from shared.storage import ImageMeta, StorageUnavailable
from worker import lifecycle
from worker.engines import RenderFailed, RenderRejected
from worker.lifecycle import Delivery
from worker.state import WorkerState, build_state

REQUEST = RenderRequest.build("https://example.com/board")


@pytest.fixture
def state(redis_url: str, tmp_path: Path) -> Iterator[WorkerState]:
    """A worker process's clients (its browser never started), failures remembered 60 s."""
    config = load_config({"OGSHOT_ALLOWED_HOSTS": "example.com", "OGSHOT_REDIS_URL": redis_url,
                          "OGSHOT_STORAGE_URL": str(tmp_path),
                          "OGSHOT_FAILURE_TTL": "60"})  # fmt: skip
    built = build_state(config)
    yield built
    built.egress.close()


def delivery(state: WorkerState, job_id: str, **payload: object) -> Delivery:
    """A delivery of ``job_id`` rendering REQUEST."""
    return Delivery(state, job_id, REQUEST, {**REQUEST.to_payload(), **payload}, "firefox")


def heard(state: WorkerState) -> tuple[threading.Event, list[str | None]]:
    """Listen for the key's completion; the event is set once subscribed."""
    ready, outcomes = threading.Event(), []

    def listen() -> None:
        with state.flight.subscription(REQUEST.cache_key()) as wait:
            ready.set()
            outcomes.append(wait(5))

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(5)
    return ready, outcomes


def meta() -> ImageMeta:
    """The metadata of a finished render."""
    return ImageMeta.describe(REQUEST, b"png", engine="firefox", render_ms=321, readiness="ready")


def test_a_render_that_works_is_recorded_announced_and_released(state: WorkerState) -> None:
    """done with its render time; waiting requests hear ok; the key is free again."""
    job = delivery(state, "j1")
    assert job.take_key(requeue=lambda: None)
    _, outcomes = heard(state)
    with job.running(last_try=False):
        job.rendered(meta())
    record = state.jobs.get("j1")
    assert record is not None
    assert (record["status"], record["render_ms"]) == ("done", "321")
    assert job.result["status"] == "rendered"
    assert state.flight.owner(job.key) is None
    threading.Event().wait(0.2)
    assert outcomes == [DONE_OK]


def test_a_second_job_for_a_held_key_is_skipped_as_done(state: WorkerState) -> None:
    """Only one job renders a key at once; the other ends done without rendering."""
    assert delivery(state, "first").take_key(requeue=lambda: None)
    second = delivery(state, "second")
    assert not second.take_key(requeue=lambda: None)
    assert second.result["status"] == "busy"
    record = state.jobs.get("second")
    assert record is not None
    assert record["status"] == "done"


@pytest.mark.parametrize(
    "error", [RenderFailed("HTTP 500"), RenderRejected(REQUEST.url, "blank page", b"png")]
)
def test_a_page_failure_ends_the_job_failed_and_remembered(
    state: WorkerState, error: Exception
) -> None:
    """Not raised (not retried); failed in the record, the recent failures and the failure
    memo; waiting requests hear why."""
    job = delivery(state, "j2")
    assert job.take_key(requeue=lambda: None)
    _, outcomes = heard(state)
    with job.running(last_try=False):
        raise error
    reason = "blank page" if isinstance(error, RenderRejected) else "HTTP 500"
    record = state.jobs.get("j2")
    assert record is not None
    assert (record["status"], record["error"]) == ("failed", reason)
    assert state.jobs.recent_failure(job.key) == reason
    assert state.jobs.failures(1)[0]["id"] == "j2"
    threading.Event().wait(0.2)
    assert outcomes == [f"failed: {reason}"]
    assert state.flight.owner(job.key) is None


def test_a_transient_failure_is_raised_for_a_retry_and_tells_no_one(state: WorkerState) -> None:
    """Before the last try: queued again with the error, waiting requests keep waiting."""
    job = delivery(state, "j3")
    assert job.take_key(requeue=lambda: None)
    _, outcomes = heard(state)
    with pytest.raises(StorageUnavailable), job.running(last_try=False):
        raise StorageUnavailable("S3 down")
    record = state.jobs.get("j3")
    assert record is not None
    assert (record["status"], record["error"]) == ("queued", "S3 down")
    assert state.jobs.recent_failure(job.key) is None
    threading.Event().wait(0.3)
    assert outcomes == []
    assert state.flight.owner(job.key) is None  # the retry takes it again


def test_a_transient_failure_on_the_last_try_fails_the_job(state: WorkerState) -> None:
    """The last try's transient failure is a failure: recorded and announced."""
    job = delivery(state, "j4")
    assert job.take_key(requeue=lambda: None)
    with pytest.raises(StorageUnavailable), job.running(last_try=True):
        raise StorageUnavailable("S3 down")
    record = state.jobs.get("j4")
    assert record is not None
    assert record["status"] == "failed"


def test_a_job_delivered_too_often_is_abandoned(state: WorkerState) -> None:
    """After MAX_DELIVERIES a delivery gives the job up instead of rendering it."""
    for _ in range(lifecycle.MAX_DELIVERIES):
        state.jobs.count_delivery("j5")
    job = delivery(state, "j5")
    assert not job.take_key(requeue=lambda: None)
    assert job.result["status"] == "abandoned"
    record = state.jobs.get("j5")
    assert record is not None
    assert record["status"] == "failed"
    assert "given up" in record["error"]


def test_a_prewarm_that_ends_queues_its_webhooks(state: WorkerState) -> None:
    """A pre-warm's webhooks are queued when it ends; a miss has none."""
    hook = {"url": "https://s.example/h", "tell": {"version": "r1"}}
    state.jobs.schedule_prewarm(REQUEST.cache_key(), "j6", hook=hook)
    job = delivery(state, "j6", prewarm=True)
    assert job.take_key(requeue=lambda: None)
    with job.running(last_try=False):
        job.rendered(meta())
    assert state.webhooks.waiting() == 1
    miss = delivery(state, "j7")
    assert miss.take_key(requeue=lambda: None)
    with miss.running(last_try=False):
        miss.rendered(meta())
    assert state.webhooks.waiting() == 1


def test_versions_asked_for_during_a_render_start_a_follow_up(state: WorkerState) -> None:
    """A version still pending after a render starts one forced render of the key."""
    followed: list[str] = []
    job = Delivery(state, "j8", REQUEST, REQUEST.to_payload(), "firefox",
                   follow_up=followed.append)  # fmt: skip
    assert job.take_key(requeue=lambda: None)
    state.versions.want(job.key, "r2")
    with job.running(last_try=False):
        job.rendered(meta())
    assert len(followed) == 1
    assert state.flight.owner(job.key) == followed[0]
