"""The Redis boundary: client construction and error translation for ogshot's own keys."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis


class QueueUnavailable(RuntimeError):  # noqa: N818 - reads as the outcome
    """Redis (the queue, the locks, the job records) cannot be reached."""


def connect(url: str) -> redis.Redis:
    """Build a client with short timeouts, so an outage costs a request seconds, not minutes."""
    client: redis.Redis = redis.Redis.from_url(
        url,
        socket_connect_timeout=1,
        socket_timeout=5,
        health_check_interval=30,
        decode_responses=True,
    )
    return client


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn any redis-py error inside the block into QueueUnavailable."""
    try:
        yield
    except redis.RedisError as exc:
        raise QueueUnavailable(f"redis: {exc}") from exc
