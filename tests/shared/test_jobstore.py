"""shared/jobstore.py on a real Redis: job records, pre-warm gathering, failure memory,
worker heartbeats and queue lengths."""

from __future__ import annotations

import json
import time

import pytest
import redis

from shared.jobstore import FAILURES, HOOKS_PREFIX, JOB_TTL, KEEP_FAILURES, JobStore
from shared.redisconn import QueueUnavailable, connect

KEY = "v1/ab/cd/abcd.png"
PAYLOAD = {"url": "https://example.com/board", "width": 1200}


@pytest.fixture
def jobs(redis_client: redis.Redis) -> JobStore:
    """A job store that gathers pre-warms for half a second."""
    return JobStore(redis_client, debounce=0.5)


def test_a_job_is_created_queued_and_marked_through_its_life(jobs: JobStore) -> None:
    """The record starts queued with the URL, key and payload; marks add what they know."""
    jobs.create("j1", KEY, PAYLOAD)
    record = jobs.get("j1")
    assert record is not None
    assert (record["status"], record["url"], record["key"]) == ("queued", PAYLOAD["url"], KEY)
    assert json.loads(record["payload"]) == PAYLOAD
    jobs.mark("j1", "running")
    jobs.mark("j1", "done", render_ms=812, readiness="ready", clipped=True)
    record = jobs.get("j1")
    assert record is not None
    assert (record["status"], record["render_ms"], record["clipped"]) == ("done", "812", "1")
    assert record["url"] == PAYLOAD["url"]  # kept across marks


def test_an_error_is_cut_and_a_record_expires_after_a_day(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    """A failed job's error is at most 500 characters; every record is kept a day."""
    jobs.mark("j2", "failed", error="x" * 2000)
    record = jobs.get("j2")
    assert record is not None
    assert len(record["error"]) == 500
    assert 0 < redis_client.ttl("ogshot:job:j2") <= JOB_TTL
    assert jobs.get("never-seen") is None


def test_prewarms_of_one_key_gather_into_the_first_job(jobs: JobStore) -> None:
    """The first pre-warm makes the job; later ones join it and push its start back."""
    assert jobs.schedule_prewarm(KEY, "first") == ("first", True)
    time.sleep(0.3)
    assert jobs.schedule_prewarm(KEY, "second") == ("first", False)
    assert 0.3 < jobs.due_in(KEY) <= 0.5  # counted again from the second
    assert jobs.prewarm_pending(KEY)
    assert jobs.schedule_prewarm("v1/other.png", "third") == ("third", True)


def test_a_started_prewarm_lets_the_next_one_make_a_new_job(jobs: JobStore) -> None:
    """Once the job takes the key, a pre-warm after it is a job of its own; another job's
    take changes nothing."""
    jobs.schedule_prewarm(KEY, "first")
    jobs.take_pending(KEY, "someone-else")
    assert jobs.prewarm_pending(KEY)
    jobs.take_pending(KEY, "first")
    assert not jobs.prewarm_pending(KEY)
    assert jobs.due_in(KEY) == 0
    assert jobs.schedule_prewarm(KEY, "later") == ("later", True)


def test_a_gathered_job_keeps_the_last_version_and_every_webhook(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    """Each pre-warm's version becomes the job's; each webhook joins its list."""
    jobs.schedule_prewarm(KEY, "first", version="r1", hook={"url": "https://a.example/h"})
    jobs.schedule_prewarm(KEY, "second", version="r2", hook={"url": "https://b.example/h"})
    jobs.schedule_prewarm(KEY, "third")
    record = jobs.get("first")
    assert record is not None
    assert record["version"] == "r2"
    hooks = [json.loads(h) for h in redis_client.lrange(HOOKS_PREFIX + "first", 0, -1)]
    assert hooks == [{"url": "https://a.example/h"}, {"url": "https://b.example/h"}]


def test_deliveries_are_counted_per_job(jobs: JobStore) -> None:
    """Each delivery (retry, redelivery after a crash) counts one more."""
    assert [jobs.count_delivery("j") for _ in range(3)] == [1, 2, 3]
    assert jobs.count_delivery("other") == 1


def test_a_failure_is_remembered_for_its_ttl_and_forgotten_on_demand(jobs: JobStore) -> None:
    """remember_failure keeps the reason for ttl seconds (0: not at all)."""
    jobs.remember_failure(KEY, "HTTP 500", ttl=0)
    assert jobs.recent_failure(KEY) is None
    jobs.remember_failure(KEY, "HTTP 500", ttl=1)
    assert jobs.recent_failure(KEY) == "HTTP 500"
    jobs.forget_failure(KEY)
    assert jobs.recent_failure(KEY) is None
    jobs.remember_failure(KEY, "HTTP 502", ttl=1)
    time.sleep(1.2)
    assert jobs.recent_failure(KEY) is None


def test_the_failure_list_keeps_the_newest(jobs: JobStore, redis_client: redis.Redis) -> None:
    """The most recent failures, newest first, at most KEEP_FAILURES of them."""
    for n in range(KEEP_FAILURES + 5):
        jobs.record_failure(f"j{n}", f"https://example.com/{n}", "blank page")
    assert redis_client.llen(FAILURES) == KEEP_FAILURES
    newest = jobs.failures(2)
    assert [f["id"] for f in newest] == [f"j{KEEP_FAILURES + 4}", f"j{KEEP_FAILURES + 3}"]
    assert newest[0]["reason"] == "blank page"


def test_workers_are_listed_while_heard_of(jobs: JobStore, redis_client: redis.Redis) -> None:
    """A heartbeat lists the worker with its fields; its row expires with WORKER_TTL."""
    jobs.worker_seen("w2", {"browser": "ready"})
    jobs.worker_seen("w1", {"browser": "starting"})
    listed = jobs.workers()
    assert [(w["name"], w["browser"]) for w in listed] == [("w1", "starting"), ("w2", "ready")]
    assert all(float(w["seen"]) <= time.time() for w in listed)
    redis_client.delete("ogshot:worker:w1")
    assert [w["name"] for w in jobs.workers()] == ["w2"]


def test_queue_lengths_are_the_celery_lists(jobs: JobStore, redis_client: redis.Redis) -> None:
    """How many jobs wait in each named queue (0 for one never used)."""
    redis_client.rpush("render", "a", "b")
    assert jobs.queue_lengths(("render", "prewarm")) == {"render": 2, "prewarm": 0}


def test_redis_down_is_queue_unavailable() -> None:
    """Every call translates a lost Redis into QueueUnavailable."""
    jobs = JobStore(connect("redis://127.0.0.1:1/0"), debounce=0)
    with pytest.raises(QueueUnavailable):
        jobs.get("j")
    with pytest.raises(QueueUnavailable):
        jobs.schedule_prewarm(KEY, "j")
