"""Signed URLs and abuse limits through Flask's test client, with a real Redis."""

from __future__ import annotations

import time
from urllib.parse import quote_plus, urlsplit

import pytest
import redis
from flask import Flask
from ogshot_client import og_image_url, sign

from shared.config import ConfigError, load_config
from shared.jobs import MISS_QUEUE
from shared.keys import RenderRequest
from shared.ratelimit import RateLimits
from tests.helpers import local_app

OLD_KEY = "old-signing-key-0123456789"
NEW_KEY = "new-signing-key-0123456789"
PAGE = "http://127.0.0.1:9/board/42"


def make_app(redis_url: str, limits: RateLimits | None = None, **env: str) -> Flask:
    """The app over a real Redis; no worker, misses give the fallback at once."""
    return local_app(redis_url, limits=limits, **{"OGSHOT_MISS_WAIT": "0", **env})


def queued(redis_url: str) -> int:
    """How many render jobs wait."""
    return int(redis.Redis.from_url(redis_url).llen(MISS_QUEUE))


def path_of(url: str) -> str:
    """The path and query of an absolute URL."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_signed_urls_are_accepted_and_tampering_refused(redis_url: str) -> None:
    """A signed URL works; a changed page, option or signature is 403 and queues nothing."""
    client = make_app(redis_url, OGSHOT_SIGNING_KEYS=NEW_KEY).test_client()
    good = path_of(og_image_url("http://x", PAGE, width=800, signing_key=NEW_KEY))
    assert client.get(good).status_code == 200
    assert queued(redis_url) == 1
    signature = good.rsplit("s=", 1)[1]
    for bad in (
        good.replace("w=800", "w=900"),
        good.replace("42", "43"),
        good.replace(signature, signature[:-2] + "AA"),
        good.replace(".png", ".jpg"),
        good.split("&s=")[0],  # unsigned
    ):
        response = client.get(bad)
        assert response.status_code == 403, bad
        assert "s=" in response.get_data(as_text=True)
    assert queued(redis_url) == 1


def test_key_rotation(redis_url: str) -> None:
    """With keys "new,old" both verify; once "old" is dropped its signatures fail."""
    old_url = path_of(og_image_url("http://x", PAGE, signing_key=OLD_KEY))
    both = make_app(redis_url, OGSHOT_SIGNING_KEYS=f"{NEW_KEY},{OLD_KEY}").test_client()
    assert both.get(old_url).status_code == 200
    new_only = make_app(redis_url, OGSHOT_SIGNING_KEYS=NEW_KEY).test_client()
    assert new_only.get(old_url).status_code == 403


def test_optional_signatures_still_reject_wrong_ones(redis_url: str) -> None:
    """With OGSHOT_REQUIRE_SIGNATURE=false unsigned URLs pass, but a wrong s= never does."""
    client = make_app(
        redis_url, OGSHOT_SIGNING_KEYS=NEW_KEY, OGSHOT_REQUIRE_SIGNATURE="false"
    ).test_client()
    assert client.get(f"/image/{quote_plus(PAGE)}.png").status_code == 200
    wrong = sign(OLD_KEY, PAGE, RenderRequest.build(PAGE))
    assert client.get(f"/image/{quote_plus(PAGE)}.png?s={wrong}").status_code == 403


def test_any_host_only_with_required_signatures() -> None:
    """OGSHOT_ALLOWED_HOSTS=* refuses to start unless signatures are required."""
    with pytest.raises(ConfigError, match="only with OGSHOT_SIGNING_KEYS"):
        load_config({"OGSHOT_ALLOWED_HOSTS": "*"})
    with pytest.raises(ConfigError):
        load_config({"OGSHOT_ALLOWED_HOSTS": "*", "OGSHOT_SIGNING_KEYS": NEW_KEY,
                     "OGSHOT_REQUIRE_SIGNATURE": "false"})  # fmt: skip
    assert load_config(
        {"OGSHOT_ALLOWED_HOSTS": "*", "OGSHOT_SIGNING_KEYS": NEW_KEY}
    ).require_signature


def test_queue_limit_trips_and_recovers(redis_url: str) -> None:
    """Past OGSHOT_MAX_QUEUE waiting jobs a miss gets the fallback and queues nothing."""
    client = make_app(redis_url, OGSHOT_MAX_QUEUE="2").test_client()
    for i in range(2):
        client.get(f"/image/{quote_plus(PAGE + str(i))}.png")
    full = client.get(f"/image/{quote_plus(PAGE + 'x')}.png")
    assert full.status_code == 200
    assert full.headers["X-Ogshot-Reason"] == "render queue full"
    assert queued(redis_url) == 2
    redis.Redis.from_url(redis_url).delete(MISS_QUEUE)  # the workers caught up
    assert client.get(f"/image/{quote_plus(PAGE + 'y')}.png").headers["X-Ogshot-Reason"] != (
        "render queue full"
    )
    assert queued(redis_url) == 1


def test_client_limit_trips_and_recovers(redis_url: str) -> None:
    """A client over its miss limit gets the fallback without queueing, until the window passes."""
    limits = RateLimits(redis_url, client_limit=2, host_limit=0, window_seconds=2)
    client = make_app(redis_url, limits).test_client()
    reasons = [
        client.get(f"/image/{quote_plus(PAGE + str(i))}.png").headers["X-Ogshot-Reason"]
        for i in range(3)
    ]
    assert reasons[2] == "client miss limit reached"
    assert queued(redis_url) == 2
    other = client.get(f"/image/{quote_plus(PAGE)}.png", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.headers["X-Ogshot-Reason"] != "client miss limit reached"
    time.sleep(2.2)
    again = client.get(f"/image/{quote_plus(PAGE + 'z')}.png")
    assert again.headers["X-Ogshot-Reason"] != "client miss limit reached"


def test_host_limit_trips_and_recovers(redis_url: str) -> None:
    """A page host over its render limit gets the fallback and no job, until the window passes."""
    limits = RateLimits(redis_url, client_limit=0, host_limit=2, window_seconds=2)
    client = make_app(redis_url, limits).test_client()
    for i in range(2):
        client.get(f"/image/{quote_plus(PAGE + str(i))}.png")
    over = client.get(f"/image/{quote_plus(PAGE + 'over')}.png")
    assert over.headers["X-Ogshot-Reason"] == "host render limit reached"
    assert queued(redis_url) == 2
    refused_key = RenderRequest.build(PAGE + "over").cache_key()
    assert not redis.Redis.from_url(redis_url).exists(f"ogshot:lock:{refused_key}")  # given back
    time.sleep(2.2)
    client.get(f"/image/{quote_plus(PAGE + 'later')}.png")
    assert queued(redis_url) == 3


def test_trusted_proxy_address_is_the_client(redis_url: str) -> None:
    """Behind one trusted proxy the limit applies to X-Forwarded-For, not the proxy."""
    limits = RateLimits(redis_url, client_limit=1, host_limit=0, window_seconds=60)
    client = make_app(redis_url, limits, OGSHOT_TRUSTED_PROXIES="1").test_client()
    for i, address in enumerate(("203.0.113.1", "203.0.113.2")):
        response = client.get(f"/image/{quote_plus(PAGE + str(i))}.png",
                              headers={"X-Forwarded-For": address})  # fmt: skip
        assert response.headers["X-Ogshot-Reason"] != "client miss limit reached"
    assert queued(redis_url) == 2
