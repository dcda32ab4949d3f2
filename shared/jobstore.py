"""Job records and pre-warm debouncing in Redis.

A job record ``ogshot:job:<id>`` (a hash, kept a day) tells the API what became of a job.
A failed render of a cache key is remembered in ``ogshot:failed:<key>`` for
OGSHOT_FAILURE_TTL seconds, so fetches of its image meanwhile queue no new render.
Pre-warms of one cache key are gathered: ``ogshot:prewarm:<key>`` names the job that will
render it and ``ogshot:due:<key>`` the moment it may start, pushed back by each new pre-warm,
so a burst of updates costs one render taken after the last of them. Times are Redis's own
clock, so web and worker machines need not agree on the time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from shared.redisconn import translated

JOB_PREFIX = "ogshot:job:"
PENDING_PREFIX = "ogshot:prewarm:"
DUE_PREFIX = "ogshot:due:"
FAILURES = "ogshot:failures"
DELIVERIES_PREFIX = "ogshot:deliveries:"
FAILED_PREFIX = "ogshot:failed:"
HOOKS_PREFIX = "ogshot:hooks:"  # the webhooks of a job, called when it ends (shared/webhooks.py)
WORKER_PREFIX = "ogshot:worker:"
JOB_TTL = 24 * 3600
KEEP_FAILURES = 50
WORKER_TTL = 30  # a worker not heard of for this long is gone
STATUSES = ("queued", "running", "done", "failed")

# Push the due time back; return the pending job's id and 0, or adopt ours and return 1.
# A version (ARGV[4]) becomes the job's; a webhook (ARGV[5]) joins the job's, in the same
# step: a job still pending has not started, so it will call every webhook it was given.
_SCHEDULE = """
local t = redis.call('TIME')
local now_ms = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('SET', KEYS[2], now_ms + tonumber(ARGV[2]), 'EX', ARGV[3])
local job = redis.call('GET', KEYS[1])
local created = 0
if not job then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  job, created = ARGV[1], 1
end
if ARGV[4] ~= '' then
  redis.call('HSET', ARGV[6] .. job, 'version', ARGV[4])
  redis.call('EXPIRE', ARGV[6] .. job, ARGV[8])
end
if ARGV[5] ~= '' then
  redis.call('RPUSH', ARGV[7] .. job, ARGV[5])
  redis.call('EXPIRE', ARGV[7] .. job, ARGV[8])
end
return {job, created}
"""
# Milliseconds until the key's pre-warm may start (0 when due or unknown).
_DUE_IN = """
local due = redis.call('GET', KEYS[1])
if not due then return 0 end
local t = redis.call('TIME')
local left = tonumber(due) - (t[1] * 1000 + math.floor(t[2] / 1000))
if left < 0 then return 0 end
return left
"""
# Forget the pending pre-warm if it is this job: later pre-warms then make a new job.
_TAKE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
"""


class JobStore:
    """Job records and pre-warm schedules."""

    def __init__(self, client: redis.Redis, debounce: float) -> None:
        self.client = client
        self.debounce_ms = round(debounce * 1000)
        self._schedule = client.register_script(_SCHEDULE)
        self._due_in = client.register_script(_DUE_IN)
        self._take = client.register_script(_TAKE)

    def create(self, job_id: str, key: str, payload: dict[str, Any]) -> None:
        """Record a newly queued job."""
        fields = {"url": payload["url"], "key": key, "payload": json.dumps(payload)}
        blank = {"status": "queued", "error": "", "render_ms": "", "readiness": ""}
        self._write(job_id, {**fields, **blank})

    def mark(
        self,
        job_id: str,
        status: str,
        *,
        error: str = "",
        render_ms: int | None = None,
        readiness: str = "",
        clipped: bool = False,
    ) -> None:
        """Record a job's new status (creating the record for jobs the API never saw)."""
        fields = {"status": status, "error": error[:500]}
        if render_ms is not None:
            fields["render_ms"] = str(render_ms)
            fields["readiness"] = readiness[:500]
            fields["clipped"] = "1" if clipped else ""
        self._write(job_id, fields)

    def _write(self, job_id: str, fields: dict[Any, Any]) -> None:
        with translated():
            pipe = self.client.pipeline()
            pipe.hset(JOB_PREFIX + job_id, mapping=fields)
            pipe.expire(JOB_PREFIX + job_id, JOB_TTL)
            pipe.execute()

    def get(self, job_id: str) -> dict[str, str] | None:
        """Return a job's record, or None if unknown or expired."""
        with translated():
            record: dict[str, str] = self.client.hgetall(JOB_PREFIX + job_id)  # type: ignore[assignment]
        return record or None

    def schedule_prewarm(
        self, key: str, job_id: str, *, version: str = "", hook: dict[str, Any] | None = None
    ) -> tuple[str, bool]:
        """Gather a pre-warm of ``key``; return the job that will render it and if it is new.

        ``version`` is recorded as the job's; ``hook`` (a webhook: its URL and what to tell
        it) is called when the job ends.
        """
        ttl = max(60, self.debounce_ms // 1000 * 4 + 60)
        hook_json = json.dumps(hook, separators=(",", ":")) if hook else ""
        with translated():
            pending, created = self._schedule(
                keys=[PENDING_PREFIX + key, DUE_PREFIX + key],
                args=[job_id, self.debounce_ms, ttl, version, hook_json, JOB_PREFIX,
                      HOOKS_PREFIX, JOB_TTL],
            )  # fmt: skip
        return str(pending), bool(created)

    def due_in(self, key: str) -> float:
        """Seconds until the pending pre-warm of ``key`` may start (0 when it may start now)."""
        with translated():
            return int(self._due_in(keys=[DUE_PREFIX + key])) / 1000

    def prewarm_pending(self, key: str) -> bool:
        """Tell whether a pre-warm of ``key`` is gathered and has not started yet."""
        with translated():
            return bool(self.client.exists(PENDING_PREFIX + key))

    def take_pending(self, key: str, job_id: str) -> None:
        """Mark the pending pre-warm of ``key`` as started, if it is ``job_id``."""
        with translated():
            self._take(keys=[PENDING_PREFIX + key, DUE_PREFIX + key], args=[job_id])

    def count_delivery(self, job_id: str) -> int:
        """Count one more delivery of a job (retries and redeliveries after a crash included)."""
        with translated():
            pipe = self.client.pipeline()
            pipe.incr(DELIVERIES_PREFIX + job_id)
            pipe.expire(DELIVERIES_PREFIX + job_id, JOB_TTL)
            count, _ = pipe.execute()
        return int(count)

    def record_failure(self, job_id: str, url: str, reason: str) -> None:
        """Remember a failed render among the most recent ones."""
        item = json.dumps({"id": job_id, "url": url, "reason": reason[:500], "at": time.time()})
        with translated():
            pipe = self.client.pipeline()
            pipe.lpush(FAILURES, item)
            pipe.ltrim(FAILURES, 0, KEEP_FAILURES - 1)
            pipe.execute()

    def remember_failure(self, key: str, reason: str, ttl: int) -> None:
        """Remember for ``ttl`` seconds (0: not at all) that rendering ``key`` failed."""
        if ttl > 0:
            with translated():
                self.client.set(FAILED_PREFIX + key, reason[:500], ex=ttl)

    def recent_failure(self, key: str) -> str | None:
        """Why the last render of ``key`` failed, if that is still remembered."""
        with translated():
            reason = self.client.get(FAILED_PREFIX + key)
        return None if reason is None else str(reason)

    def forget_failure(self, key: str) -> None:
        """Forget a failed render of ``key`` (a render of it worked, or it was deleted)."""
        with translated():
            self.client.delete(FAILED_PREFIX + key)

    def failures(self, count: int = 20) -> list[dict[str, Any]]:
        """Return the most recent failures, newest first."""
        with translated():
            items: list[str] = self.client.lrange(FAILURES, 0, count - 1)  # type: ignore[assignment]
        return [json.loads(item) for item in items]

    def worker_seen(self, name: str, fields: dict[str, str]) -> None:
        """Say that worker process ``name`` is alive, and what it is doing."""
        with translated():
            pipe = self.client.pipeline()
            row: dict[Any, Any] = {**fields, "seen": str(time.time())}
            pipe.hset(WORKER_PREFIX + name, mapping=row)
            pipe.expire(WORKER_PREFIX + name, WORKER_TTL)
            pipe.execute()

    def workers(self) -> list[dict[str, str]]:
        """Return the worker processes heard of in the last WORKER_TTL seconds."""
        with translated():
            names = sorted(str(k) for k in self.client.scan_iter(WORKER_PREFIX + "*", count=100))
            pipe = self.client.pipeline()
            for name in names:
                pipe.hgetall(name)
            rows: list[dict[str, str]] = pipe.execute()
        return [
            {"name": n[len(WORKER_PREFIX) :], **row}
            for n, row in zip(names, rows, strict=True)
            if row
        ]

    def queue_lengths(self, queues: tuple[str, ...]) -> dict[str, int]:
        """Return how many jobs wait in each Celery queue."""
        with translated():
            return {queue: int(self.client.llen(queue)) for queue in queues}
