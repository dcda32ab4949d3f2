"""Single-flight against a real Redis."""

from __future__ import annotations

import threading
import time

import pytest

from shared.redisconn import QueueUnavailable, connect
from shared.singleflight import DONE_OK, SingleFlight


@pytest.fixture
def flight(redis_url: str) -> SingleFlight:
    """A SingleFlight on an empty database, with a 5 s lock lifetime."""
    return SingleFlight(connect(redis_url), lock_ttl=5)


def test_only_the_first_start_queues(flight: SingleFlight) -> None:
    """Of many concurrent starts for one key, exactly one sends a job; all learn its id."""
    sent: list[str] = []
    results: list[tuple[str, bool]] = []
    barrier = threading.Barrier(20)

    def start() -> None:
        barrier.wait()
        results.append(flight.start("k", sent.append))

    threads = [threading.Thread(target=start) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 1
    assert {job_id for job_id, _ in results} == {sent[0]}
    assert sum(queued for _, queued in results) == 1


def test_failed_send_frees_the_key(flight: SingleFlight) -> None:
    """If queueing fails the lock is dropped, so the next request can queue."""

    def broken(job_id: str) -> None:
        raise QueueUnavailable("down")

    with pytest.raises(QueueUnavailable):
        flight.start("k", broken)
    assert flight.owner("k") is None


def test_claim_and_release_respect_the_owner(flight: SingleFlight) -> None:
    """The job named in the lock may claim it; another job may not; only the owner releases."""
    job_id, _ = flight.start("k", lambda _id: None)
    assert flight.claim("k", job_id)
    assert not flight.claim("k", "intruder")
    flight.release("k", "intruder")
    assert flight.owner("k") == job_id
    flight.release("k", job_id)
    assert flight.owner("k") is None
    assert flight.claim("k", "next")  # a free key can be claimed


def test_expired_lock_is_recovered(redis_url: str) -> None:
    """A lock whose worker died expires, and a new job can take the key."""
    flight = SingleFlight(connect(redis_url), lock_ttl=1)
    flight.start("k", lambda _id: None)
    time.sleep(1.2)
    _, queued = flight.start("k", lambda _id: None)
    assert queued


def test_waiters_hear_the_outcome(flight: SingleFlight) -> None:
    """A subscribed waiter gets the published outcome; without one it times out with None."""
    with flight.subscription("k") as wait:
        threading.Timer(0.2, flight.publish_done, args=("k", DONE_OK)).start()
        started = time.monotonic()
        assert wait(5) == DONE_OK
        assert time.monotonic() - started < 4
    with flight.subscription("k") as wait:
        assert wait(0.2) is None


def test_unreachable_redis_is_queue_unavailable() -> None:
    """A dead Redis is QueueUnavailable, raised fast."""
    flight = SingleFlight(connect("redis://127.0.0.1:9/0"), lock_ttl=5)
    with pytest.raises(QueueUnavailable):
        flight.start("k", lambda _id: None)
