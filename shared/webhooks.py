"""Webhook deliveries in Redis: a queue of their own, apart from the render queues.

When a pre-warm job ends, each webhook it gathered (``ogshot:hooks:<job>``, written by the
pre-warm API) becomes a delivery ``ogshot:delivery:<id>`` (a hash: target, body, attempts,
status) and enters ``ogshot:webhooks:due``, a sorted set scored by when its next attempt is
due. Senders (worker/webhooks.py) claim a due delivery by pushing its score a lease ahead,
so one attempt is made by one sender and a sender that died leaves it due again; after the
attempt the score moves to the next try, or the delivery leaves the set for good. Times are
Redis's clock, so machines need not agree on the time.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from shared.jobstore import HOOKS_PREFIX, JOB_PREFIX, JOB_TTL
from shared.redisconn import translated
from shared.sites import host_matches
from shared.urlpolicy import InvalidURL, normalize_host

DELIVERY_PREFIX = "ogshot:delivery:"
DUE = "ogshot:webhooks:due"
RECENT = "ogshot:webhooks:recent"  # the newest deliveries' ids, for the admin's queue panel
LAST_PREFIX = "ogshot:webhook:last:"  # the last delivery for a cache key, for its admin page
KEEP_RECENT = 50
# Longer than one attempt may take (OGSHOT_WEBHOOK_TIMEOUT is at most 60 s): a delivery is
# claimed again only when its sender died during the attempt.
LEASE = 90

# The first delivery due, claimed for LEASE seconds; false when none is due.
_CLAIM = """
local t = redis.call('TIME')
local now = t[1] + t[2] / 1e6
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), due[1])
return {due[1], tostring(now)}
"""
# Queue the deliveries of a job that ended. ARGV: the hashes' prefix, their lifetime, how
# many recent ids to keep, the job's record and its webhook status, then pairs of a
# delivery's id and its fields as JSON. The status is written first: a sender that makes
# an attempt at once writes its own after it, never before.
_ENQUEUE = """
local t = redis.call('TIME')
local now = t[1] + t[2] / 1e6
redis.call('HSET', ARGV[4], 'webhook', ARGV[5])
for i = 6, #ARGV, 2 do
  local key = ARGV[1] .. ARGV[i]
  for name, value in pairs(cjson.decode(ARGV[i + 1])) do redis.call('HSET', key, name, value) end
  redis.call('HSET', key, 'created', tostring(now))
  redis.call('EXPIRE', key, ARGV[2])
  redis.call('ZADD', KEYS[1], now, ARGV[i])
  redis.call('LPUSH', KEYS[2], ARGV[i])
end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
return 0
"""


MAX_WEBHOOK_URL = 2000


class RefusedWebhook(ValueError):  # noqa: N818 - reads as the outcome: 400
    """A webhook URL that is malformed or off OGSHOT_WEBHOOK_HOSTS."""


def check_webhook_url(url: str, hosts: tuple[str, ...]) -> str:
    """Return ``url`` if webhooks may be sent to it, else raise RefusedWebhook saying why.

    The host list decides, not the address: a site's own server may well be on a private
    network, and the operator named it.
    """
    if not hosts:
        raise RefusedWebhook("webhooks are off on this server: OGSHOT_WEBHOOK_HOSTS is empty")
    if len(url) > MAX_WEBHOOK_URL:
        raise RefusedWebhook(f"webhook_url must be at most {MAX_WEBHOOK_URL} characters")
    try:
        parts = urlsplit(url)
        if parts.port == 0:  # reading the port checks it: a malformed one raises
            raise ValueError("port 0")
        host = normalize_host(parts.hostname or "")
    except (ValueError, InvalidURL):
        raise RefusedWebhook(f"webhook_url {url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        raise RefusedWebhook(
            f"webhook_url {url!r} must be an http(s) URL without a user name or password"
        )
    if not any(host_matches(pattern, host) for pattern in hosts):
        raise RefusedWebhook(f"webhook_url {url!r}: host {host} is not in OGSHOT_WEBHOOK_HOSTS")
    return url


@dataclass(frozen=True)
class WebhookDelivery:
    """One webhook to call: where, what, and how it has gone so far (not a render job's
    delivery, worker.lifecycle.Delivery)."""

    id: str
    job: str
    key: str  # the cache key the job rendered
    url: str
    body: bytes
    attempts: int
    created: float  # Redis time the job ended
    status: str  # pending, retrying, delivered, failed, given up
    detail: str  # what the last attempt met, in words


def _delivery(delivery_id: str, row: dict[str, str]) -> WebhookDelivery:
    return WebhookDelivery(
        id=delivery_id,
        job=row.get("job", ""),
        key=row.get("key", ""),
        url=row.get("url", ""),
        body=row.get("body", "").encode(),
        attempts=int(row.get("attempts") or 0),
        created=float(row.get("created") or 0),
        status=row.get("status", "pending"),
        detail=row.get("detail", ""),
    )


class WebhookQueue:
    """The webhooks of pre-warm jobs, from a job's end to each one's last attempt."""

    def __init__(self, client: redis.Redis, horizon: int) -> None:
        self.client = client
        self.horizon = horizon
        self._claim = client.register_script(_CLAIM)
        self._enqueue = client.register_script(_ENQUEUE)

    def job_ended(self, job_id: str, key: str, job: dict[str, Any]) -> int:
        """Queue a delivery of ``job`` (its JSON: status, error...) to each of its webhooks;
        return how many. Each hook adds what is its own (its version, its image URL)."""
        with translated():
            pipe = self.client.pipeline(transaction=True)
            pipe.lrange(HOOKS_PREFIX + job_id, 0, -1)
            pipe.delete(HOOKS_PREFIX + job_id)
            hooks: list[str] = pipe.execute()[0]
            if not hooks:
                return 0
            args: list[Any] = [DELIVERY_PREFIX, self.horizon + JOB_TTL, KEEP_RECENT,
                               JOB_PREFIX + job_id, f"pending: {len(hooks)} to call"]  # fmt: skip
            for raw in hooks:
                hook = json.loads(raw)
                body = {**job, **hook["tell"]}
                row = {"job": job_id, "key": key, "url": hook["url"], "attempts": "0",
                       "status": "pending", "detail": "",
                       "body": json.dumps(body, separators=(",", ":"), sort_keys=True)}  # fmt: skip
                args += [uuid.uuid4().hex, json.dumps(row)]
            self._enqueue(keys=[DUE, RECENT], args=args)
        return len(hooks)

    def claim(self) -> tuple[WebhookDelivery, float] | None:
        """Take the first due delivery for one attempt; return it with Redis's time now."""
        with translated():
            claimed = self._claim(keys=[DUE], args=[LEASE])
            if not claimed:
                return None
            delivery_id, now = str(claimed[0]), float(claimed[1])
            row: dict[str, str] = self.client.hgetall(DELIVERY_PREFIX + delivery_id)  # type: ignore[assignment]
            if not row:  # expired under us: nothing left to send
                self.client.zrem(DUE, delivery_id)
                return None
        return _delivery(delivery_id, row), now

    def attempted(
        self, delivery: WebhookDelivery, status: str, detail: str, retry_in: float
    ) -> None:
        """Record an attempt of ``delivery``: ``status`` and ``detail`` say how it went;
        ``retry_in`` > 0 is when the next one is due, else the delivery is over."""
        attempts = delivery.attempts + 1
        line = f"{status}: {detail} ({_attempts(attempts)})"
        with translated():
            pipe = self.client.pipeline()
            pipe.hset(
                DELIVERY_PREFIX + delivery.id,
                mapping={"attempts": attempts, "status": status, "detail": detail},
            )
            if retry_in > 0:
                pipe.zadd(DUE, {delivery.id: _now_plus(self.client, retry_in)})
            else:
                pipe.zrem(DUE, delivery.id)
            pipe.hset(JOB_PREFIX + delivery.job, "webhook", line)
            pipe.expire(JOB_PREFIX + delivery.job, JOB_TTL)  # never a record without an end
            last = {"job": delivery.job, "url": delivery.url, "status": line}
            pipe.set(LAST_PREFIX + delivery.key, json.dumps(last), ex=JOB_TTL + self.horizon)
            pipe.execute()

    def last_for(self, key: str) -> dict[str, str] | None:
        """The last delivery made for a cache key's jobs: its job, target and status."""
        with translated():
            raw = self.client.get(LAST_PREFIX + key)
        return None if raw is None else dict(json.loads(raw))

    def recent(self, count: int = 20) -> list[WebhookDelivery]:
        """The newest deliveries, newest first."""
        with translated():
            ids: list[str] = self.client.lrange(RECENT, 0, count - 1)  # type: ignore[assignment]
            pipe = self.client.pipeline()
            for delivery_id in ids:
                pipe.hgetall(DELIVERY_PREFIX + delivery_id)
            rows: list[dict[str, str]] = pipe.execute()
        return [_delivery(i, row) for i, row in zip(ids, rows, strict=True) if row]

    def waiting(self) -> int:
        """How many deliveries are due or will be tried again."""
        with translated():
            return int(self.client.zcard(DUE))


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _now_plus(client: redis.Redis, seconds: float) -> float:
    seconds_now, micros = client.time()
    return float(seconds_now) + micros / 1e6 + seconds
