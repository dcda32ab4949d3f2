"""Liveness and readiness: each dependency reported by name."""

from __future__ import annotations

import redis

from shared.jobstore import JobStore
from shared.storage.s3 import S3Storage, make_s3_client
from tests.helpers import local_app


def test_healthz_needs_nothing(redis_url: str) -> None:
    """/healthz is 200 while the process is up, even with Redis gone."""
    assert local_app("redis://127.0.0.1:9/0").test_client().get("/healthz").status_code == 200


def test_readyz_reports_each_dependency(redis_url: str) -> None:
    """Without a worker heartbeat /readyz is 503 naming "workers"; with one it is 200."""
    client = local_app(redis_url).test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["ok"] == ["redis", "storage"]
    assert "workers" in answer.json["failing"]
    JobStore(redis.Redis.from_url(redis_url, decode_responses=True), 2).worker_seen(
        "box-1", {"engine": "firefox"}
    )
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json == {"ok": ["redis", "storage", "workers"], "failing": {}}


def test_readyz_names_redis_and_storage_when_they_fail() -> None:
    """A dead Redis and an unreachable store are each reported as failing."""
    storage = S3Storage(make_s3_client("http://127.0.0.1:9"), "bucket")
    answer = local_app("redis://127.0.0.1:9/0", storage).test_client().get("/readyz")
    assert answer.status_code == 503
    assert set(answer.json["failing"]) == {"redis", "storage", "workers"}
