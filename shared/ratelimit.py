"""Abuse limits kept in Redis through the ``limits`` library (moving windows).

Two limits guard the render queue: misses per client address, and renders queued per page
host. Over a limit a request gets the fallback image; it never gets a 5xx or queues a job.
"""

from __future__ import annotations

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from shared.redisconn import translated


class RateLimited(RuntimeError):  # noqa: N818 - reads as the outcome
    """A limit is reached: serve the fallback and queue nothing."""


class RateLimits:
    """Per-client miss and per-host render limits per window (a limit of 0 is no limit)."""

    def __init__(
        self, redis_url: str, client_limit: int, host_limit: int, window_seconds: int = 60
    ) -> None:
        storage = RedisStorage(redis_url, socket_connect_timeout=1, socket_timeout=2)
        self._limiter = MovingWindowRateLimiter(storage)
        self._client = (
            RateLimitItemPerSecond(client_limit, window_seconds) if client_limit else None
        )
        self._host = RateLimitItemPerSecond(host_limit, window_seconds) if host_limit else None

    def _hit(self, item: RateLimitItem | None, *identifiers: str) -> bool:
        if item is None:
            return True
        with translated():
            return bool(self._limiter.hit(item, "ogshot", *identifiers))

    def allow_client_miss(self, address: str) -> bool:
        """Count a miss for ``address``; False once it is over its limit."""
        return self._hit(self._client, "client", address)

    def allow_host_render(self, host: str) -> bool:
        """Count a render queued for ``host``; False once it is over its limit."""
        return self._hit(self._host, "host", host)
