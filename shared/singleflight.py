"""Single-flight in Redis: at most one render per cache key at a time, and its completion.

A lock ``ogshot:lock:<key>`` holds the id of the job that renders the key. It expires on its
own (a worker that died releases nothing), is taken over by the job it names when the job
starts, and is deleted only by its owner. When a render ends the worker publishes on
``ogshot:done:<key>`` so waiting requests answer at once instead of polling.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import redis

from shared.redisconn import translated

LOCK_PREFIX = "ogshot:lock:"
DONE_PREFIX = "ogshot:done:"
DONE_OK = "ok"

# Take the lock if it is free or already ours; refresh its lifetime either way.
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""
# Delete the lock only if we still own it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SingleFlight:
    """Locks and completion signals for cache keys."""

    def __init__(self, client: redis.Redis, lock_ttl: int) -> None:
        self.client = client
        self.lock_ttl = lock_ttl
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    def start(self, key: str, send: Callable[[str], None]) -> tuple[str, bool]:
        """Make sure one job renders ``key``: return its id and whether this call queued it.

        ``send(job_id)`` queues the job; it runs only when this call won the lock.
        """
        job_id = uuid.uuid4().hex
        with translated():
            if self.client.set(LOCK_PREFIX + key, job_id, nx=True, ex=self.lock_ttl):
                try:
                    send(job_id)
                except Exception:
                    # Nothing was queued: free the key so the next request can try again.
                    self._release(keys=[LOCK_PREFIX + key], args=[job_id])
                    raise
                return job_id, True
            owner = self.client.get(LOCK_PREFIX + key)
        return str(owner or job_id), False

    def claim(self, key: str, job_id: str) -> bool:
        """Take or refresh the lock for ``job_id``; False if another job holds it."""
        with translated():
            return bool(self._claim(keys=[LOCK_PREFIX + key], args=[job_id, self.lock_ttl]))

    def release(self, key: str, job_id: str) -> None:
        """Drop the lock if ``job_id`` still owns it."""
        with translated():
            self._release(keys=[LOCK_PREFIX + key], args=[job_id])

    def owner(self, key: str) -> str | None:
        """Return the id of the job holding ``key``, if any."""
        with translated():
            value = self.client.get(LOCK_PREFIX + key)
        return None if value is None else str(value)

    def publish_done(self, key: str, outcome: str) -> None:
        """Tell waiting requests that the render of ``key`` ended (``ok`` or a reason)."""
        with translated():
            self.client.publish(DONE_PREFIX + key, outcome)

    @contextlib.contextmanager
    def subscription(self, key: str) -> Iterator[Callable[[float], str | None]]:
        """Subscribe to ``key``'s completion; yield ``wait(seconds) -> outcome or None``.

        Subscribe first, then check storage, then queue: a render finishing in between is
        then either found in storage or heard on the channel, never missed.
        """
        # redis-py leaves pubsub() unannotated.
        pubsub: Any = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        with translated():
            pubsub.subscribe(DONE_PREFIX + key)

        def wait(seconds: float) -> str | None:
            deadline = time.monotonic() + seconds
            with translated():
                while (left := deadline - time.monotonic()) > 0:
                    message = pubsub.get_message(timeout=left)
                    if message and message.get("type") == "message":
                        return str(message["data"])
            return None

        try:
            yield wait
        finally:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()
