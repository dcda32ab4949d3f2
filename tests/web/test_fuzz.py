"""Property-based fuzzing of /image and the JSON API: never a 500, never a job for a refusal,
never a secret in a response or a log line."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import redis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.config import load_config
from shared.jobs import MISS_QUEUE, PREWARM_QUEUE
from shared.storage.memory import MemoryStorage
from web import create_app

TOKEN = "fuzz-api-token-0123456789"
SIGNING = "fuzz-signing-key-0123456789"
ADMIN = "fuzz admin password"
SECRET_KEY = "fuzz-secret-key-0123456789abcdefghijkl"
SECRETS = (TOKEN, SIGNING, ADMIN, SECRET_KEY)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Characters that parsers trip on, plus some ordinary ones.
TRICKY = st.sampled_from([*"/:@\\?#&=+%.[]-_~ \t\n", "%2F", "%00", "é", "0x", "127.0.0.2"])
PIECES = st.one_of(TRICKY, st.text(alphabet="abcdefhtps0123456789", max_size=6))
PAGE_TEXT = st.lists(PIECES, max_size=12).map("".join)
PREFIXES = st.sampled_from(
    ["http://", "https://", "HTTP://", "ftp://", "//", "", "http://127.0.0.1"]
)


@pytest.fixture
def app(redis_url: str) -> Flask:
    """The app with every secret set, no waiting for renders."""
    config = load_config(
        {
            "OGSHOT_ALLOWED_HOSTS": "127.0.0.1",
            "OGSHOT_ALLOW_PRIVATE_NETWORKS": "127.0.0.1/32",
            "OGSHOT_REDIS_URL": redis_url,
            "OGSHOT_MISS_WAIT": "0",
            "OGSHOT_MAX_WAITING": "0",
            "OGSHOT_API_TOKENS": TOKEN,
            "OGSHOT_SIGNING_KEYS": SIGNING,
            "OGSHOT_REQUIRE_SIGNATURE": "false",
            "OGSHOT_ADMIN_PASSWORD": ADMIN,
            "OGSHOT_SECRET_KEY": SECRET_KEY,
            "OGSHOT_CLIENT_MISSES_PER_MINUTE": "0",
            "OGSHOT_HOST_RENDERS_PER_MINUTE": "0",
        }
    )
    return create_app(config, storage=MemoryStorage())


def jobs(redis_url: str) -> int:
    """Render jobs queued, both queues."""
    client = redis.Redis.from_url(redis_url)
    return int(client.llen(MISS_QUEUE)) + int(client.llen(PREWARM_QUEUE))


def no_secrets(text: str | bytes) -> None:
    """Fail if any configured secret appears in ``text`` (or bytes)."""
    for secret in SECRETS:
        assert (secret.encode() if isinstance(text, bytes) else secret) not in text


@FUZZ
@given(
    prefix=PREFIXES,
    page=PAGE_TEXT,
    ext=st.sampled_from([".png", ".jpg", ".jpeg", ".webp", ".gif", "", ".PNG"]),
    query=st.dictionaries(
        st.sampled_from(["w", "h", "scale", "format", "url", "s", "x"]), PAGE_TEXT, max_size=4
    ),
    form=st.sampled_from(["path", "query"]),
)
def test_image_requests(  # noqa: PLR0917 - fixtures plus hypothesis's arguments
    app: Flask, redis_url: str, caplog: pytest.LogCaptureFixture,
    prefix: str, page: str, ext: str, query: dict[str, str], form: str,
) -> None:  # fmt: skip
    """Any /image request answers below 500; a refused one queues nothing."""
    before = jobs(redis_url)
    caplog.set_level(logging.DEBUG)
    if form == "path":
        path = "/image/" + quote(prefix + page, safe="/:@%+") + ext
        path += "?" + urlencode(query) if query else ""
    else:
        path = "/image?" + urlencode({"url": prefix + page, **query})
    response = app.test_client().get(path)
    assert response.status_code < 500, (path, response.get_data())
    if response.status_code in (400, 403, 404):
        assert jobs(redis_url) == before
        assert response.get_data(as_text=True).count("\n") <= 1
    no_secrets(response.get_data())
    no_secrets(caplog.text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5000) | PAGE_TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(PAGE_TEXT, children, max_size=4)
    ),
    max_leaves=10,
)
BODIES = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"urls": st.lists(st.builds(str.__add__, PREFIXES, PAGE_TEXT), max_size=5)},
        optional={"w": JSON, "h": JSON, "scale": JSON, "format": JSON},
    ),
)


@FUZZ
@given(body=BODIES, authorized=st.booleans())
def test_prewarm_bodies(
    app: Flask, redis_url: str, caplog: pytest.LogCaptureFixture, body: Any, authorized: bool
) -> None:
    """Any pre-warm body answers 202, 400 or 401; refused URLs and bad bodies queue nothing."""
    before = jobs(redis_url)
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": f"Bearer {TOKEN}"} if authorized else {}
    response = app.test_client().post("/api/prewarm", json=body, headers=headers)
    assert response.status_code in (202, 400, 401), response.get_data(as_text=True)
    if response.status_code == 202:
        accepted = {job["key"] for job in response.json["jobs"]}
        assert jobs(redis_url) - before <= len(accepted)
    else:
        assert jobs(redis_url) == before
    no_secrets(response.get_data(as_text=True))
    no_secrets(caplog.text)
