"""Webhook deliveries: the Redis queue and the sender, against a real receiver and Redis.

Retries until a 2xx and the horizon run through the whole stack (tests/e2e/test_versions.py).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from ogshot_client import WebhookError, verify_webhook
from ogshot_client.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER

from shared.jobstore import HOOKS_PREFIX, JOB_PREFIX
from shared.webhooks import DUE, WebhookQueue
from tests.receiver import Receiver, receiving
from worker.webhooks import WebhookSender, pause_after

SECRET = "webhook-secret-0123456789abcdef0123"
KEY = "v1/ab/cd/abcd.png"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1."""
    yield from receiving()


def ended(client: redis.Redis, queue: WebhookQueue, *targets: str, job: str = "job1") -> None:
    """Give ``job`` one webhook per target, then end it."""
    for index, url in enumerate(targets):
        tell = {"version": f"v{index}", "page_url": "https://example.com/b", "image_url": "i"}
        client.rpush(HOOKS_PREFIX + job, json.dumps({"url": url, "tell": tell}))
    queue.job_ended(job, KEY, {"id": job, "url": "https://example.com/b", "status": "done"})


def run_until_over(sender: WebhookSender, queue: WebhookQueue, limit: float = 30) -> list[str]:
    """Make every due attempt as it comes due, until nothing is left; return the outcomes."""
    outcomes = []
    deadline = time.monotonic() + limit
    while queue.waiting() and time.monotonic() < deadline:
        claimed = queue.claim()
        if claimed is None:
            time.sleep(0.05)
            continue
        outcomes.append(sender.attempt(*claimed))
    assert not queue.waiting(), "deliveries left after the limit"
    return outcomes


def test_each_webhook_gets_the_job_signed_with_its_own_version(
    redis_url: str, receiver: Receiver
) -> None:
    """Every webhook of a job is called once with the job's JSON and its own version; the
    signature verifies with the helper, and not with another secret or once too old."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = WebhookQueue(client, horizon=60)
    ended(client, queue, receiver.url("/a"), receiver.url("/b"))
    assert client.hget(JOB_PREFIX + "job1", "webhook") == "pending: 2 to call"
    assert run_until_over(WebhookSender(queue, SECRET, 5), queue) == ["delivered"] * 2
    for path, version in (("/a", "v0"), ("/b", "v1")):
        (call,) = receiver.to(path)
        event = verify_webhook(SECRET, call.headers[SIGNATURE_HEADER], call.body)
        assert event["id"] == "job1"
        assert event["status"] == "done"
        assert event["version"] == version
        assert call.headers[DELIVERY_HEADER]
        with pytest.raises(WebhookError, match="signature"):
            verify_webhook("another-secret-0123456789abcdef", call.headers[SIGNATURE_HEADER],
                           call.body)  # fmt: skip
        with pytest.raises(WebhookError, match="replay"):
            verify_webhook(SECRET, call.headers[SIGNATURE_HEADER], call.body,
                           now=time.time() + 3600)  # fmt: skip
        with pytest.raises(WebhookError, match="signature"):
            verify_webhook(SECRET, call.headers[SIGNATURE_HEADER], call.body + b" ")
    status = client.hget(JOB_PREFIX + "job1", "webhook")
    assert status == "delivered: HTTP 200 (1 attempt)"
    assert queue.last_for(KEY)["status"] == status  # type: ignore[index]


def test_redirects_and_refusals_are_final(redis_url: str, receiver: Receiver) -> None:
    """A 3xx is not followed and a 4xx (but 429) is not tried again."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = WebhookQueue(client, horizon=60)
    ended(client, queue, receiver.answer("/moved", 302), receiver.answer("/gone", 404))
    assert sorted(run_until_over(WebhookSender(queue, SECRET, 5), queue)) == ["failed"] * 2
    assert len(receiver.to("/moved")) == len(receiver.to("/gone")) == 1
    assert receiver.to("/moved-here") == []


def test_a_claimed_delivery_is_due_again_only_after_its_lease(redis_url: str) -> None:
    """One sender's claim hides the delivery from the others (a sender that died leaves it
    to come back after the lease)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = WebhookQueue(client, horizon=60)
    ended(client, queue, "http://127.0.0.1:9/x")
    assert queue.claim() is not None
    assert queue.claim() is None
    ((_, due),) = client.zrange(DUE, 0, -1, withscores=True)
    assert due > time.time() + 60


def test_jobs_without_webhooks_queue_nothing(redis_url: str) -> None:
    """A job that gathered no webhook adds no delivery."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = WebhookQueue(client, horizon=60)
    assert queue.job_ended("lonely", KEY, {"id": "lonely"}) == 0
    assert queue.waiting() == 0


def test_pauses_double_up_to_a_bound() -> None:
    """1, 2, 4... seconds, never more than ten minutes."""
    assert [pause_after(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert pause_after(30) == 600


def test_an_answer_that_is_not_http_is_tried_again(redis_url: str) -> None:
    """A server that answers garbage is a passing failure, not a sender crash."""
    listener = socket.create_server(("127.0.0.1", 0))

    def garbage() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        connection.close()

    threading.Thread(target=garbage, daemon=True).start()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = WebhookQueue(client, horizon=60)
    ended(client, queue, f"http://127.0.0.1:{listener.getsockname()[1]}/x")
    claimed = queue.claim()
    assert claimed is not None
    assert WebhookSender(queue, SECRET, 5).attempt(*claimed) == "retry"
    assert client.hget(JOB_PREFIX + "job1", "webhook").startswith("retrying: no HTTP answer")
    listener.close()
