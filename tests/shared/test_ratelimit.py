"""shared/ratelimit.py on a real Redis: per-client misses and per-host renders."""

from __future__ import annotations

import time

import pytest

from shared.ratelimit import RateLimits
from shared.redisconn import QueueUnavailable


def test_each_client_has_its_own_allowance(redis_url: str) -> None:
    """Over its limit a client is refused; another client is not."""
    limits = RateLimits(redis_url, client_limit=3, host_limit=0)
    assert [limits.allow_client_miss("10.0.0.1") for _ in range(4)] == [True] * 3 + [False]
    assert limits.allow_client_miss("10.0.0.2")


def test_each_host_has_its_own_allowance(redis_url: str) -> None:
    """Renders are counted per page host, apart from clients."""
    limits = RateLimits(redis_url, client_limit=1, host_limit=2)
    assert [limits.allow_host_render("a.example") for _ in range(3)] == [True, True, False]
    assert limits.allow_host_render("b.example")
    assert limits.allow_client_miss("a.example")  # the client counter is another


def test_a_limit_of_zero_is_no_limit(redis_url: str) -> None:
    """0 turns a limit off."""
    limits = RateLimits(redis_url, client_limit=0, host_limit=0)
    assert all(limits.allow_client_miss("c") for _ in range(50))
    assert all(limits.allow_host_render("h") for _ in range(50))


def test_the_window_moves(redis_url: str) -> None:
    """A refused client is allowed again once its oldest hit leaves the window."""
    limits = RateLimits(redis_url, client_limit=1, host_limit=0, window_seconds=1)
    assert limits.allow_client_miss("c")
    assert not limits.allow_client_miss("c")
    time.sleep(1.1)
    assert limits.allow_client_miss("c")


def test_redis_down_is_queue_unavailable() -> None:
    """A lost Redis is QueueUnavailable (the fallback), never a bare Redis error."""
    limits = RateLimits("redis://127.0.0.1:1/0", client_limit=1, host_limit=1)
    with pytest.raises(QueueUnavailable):
        limits.allow_client_miss("c")
