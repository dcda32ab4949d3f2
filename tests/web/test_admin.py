"""Admin pages through Flask's test client, with a real Redis index and in-memory storage."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import time
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from ogshot_client import og_tags
from PIL import Image

from shared.config import load_config
from shared.imaging import thumbnail
from shared.index import ImageIndex
from shared.jobs import PREWARM_QUEUE
from shared.jobstore import JobStore
from shared.keys import RenderRequest, thumbnail_key
from shared.storage import ImageMeta
from shared.storage.memory import MemoryStorage
from web import create_app

PASSWORD = "correct horse battery"
SECRET = "s" * 40


def make_app(redis_url: str, storage: MemoryStorage, **env: str) -> Flask:
    """The app with the admin pages on."""
    settings = {
        "OGSHOT_ALLOWED_HOSTS": "127.0.0.1,*.example.com",
        "OGSHOT_REDIS_URL": redis_url,
        "OGSHOT_ADMIN_PASSWORD": PASSWORD,
        "OGSHOT_SECRET_KEY": SECRET,
        **env,
    }
    return create_app(load_config({k: v for k, v in settings.items() if v}), storage=storage)


def add_image(storage: MemoryStorage, index: ImageIndex, url: str, *, size: int = 0,
              age: float = 0, title: str = "", readiness: str = "ready", waited: str = "",
              **options: Any) -> str:  # fmt: skip
    """Store an image with its thumbnail and index it, as a worker does."""
    request = RenderRequest.build(url, **options)
    out = io.BytesIO()
    Image.new("RGB", (1200, 630), (20, 40, 60)).save(out, "PNG")
    data = out.getvalue() + b"\0" * size
    meta = ImageMeta.describe(request, data, engine="firefox", render_ms=100 + size, title=title,
                              readiness=readiness, waited=waited)  # fmt: skip
    meta = ImageMeta(**{**meta.__dict__, "rendered_at": time.time() - age})
    key = request.cache_key()
    storage.put(key, data, meta)
    small = thumbnail(out.getvalue())
    storage.put(thumbnail_key(key), small, meta.for_thumbnail(small))
    index.add(key, meta)
    return key


@pytest.fixture
def storage() -> MemoryStorage:
    """An empty store."""
    return MemoryStorage()


@pytest.fixture
def index(redis_url: str) -> ImageIndex:
    """The index in the test's Redis database."""
    return ImageIndex(redis.Redis.from_url(redis_url, decode_responses=True))


def log_in(client: FlaskClient) -> str:
    """Log in; return the CSRF token of the session."""
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"password": PASSWORD, "csrf": token})
    assert response.status_code == 302
    return csrf_of(client.get("/admin/").get_data(as_text=True))


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_admin_is_absent_without_a_password(redis_url: str, storage: MemoryStorage) -> None:
    """Without OGSHOT_ADMIN_PASSWORD there are no admin pages at all."""
    client = make_app(
        redis_url, storage, OGSHOT_ADMIN_PASSWORD="", OGSHOT_SECRET_KEY=""
    ).test_client()
    assert client.get("/admin/").status_code == 404
    assert client.get("/admin/login").status_code == 404


def test_login_flow_cookie_and_headers(redis_url: str, storage: MemoryStorage) -> None:
    """Pages need a login; a wrong password is refused; the cookie and headers are strict."""
    client = make_app(redis_url, storage).test_client()
    assert client.get("/admin/").status_code == 302
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    assert client.post("/admin/login", data={"password": "nope", "csrf": token}).status_code == 401
    response = client.post(
        "/admin/login?next=//evil.example/", data={"password": PASSWORD, "csrf": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"  # no open redirect
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS gets Secure
    page = client.get("/admin/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "script-src" not in csp  # default-src 'none' forbids every script
    assert page.headers["Referrer-Policy"] == "no-referrer"
    secure = client.get("/admin/login", base_url="https://localhost")
    client.post("/admin/logout", data={"csrf": csrf_of(page.get_data(as_text=True))})
    assert client.get("/admin/").status_code == 302
    assert secure.status_code == 200


def test_session_cookie_is_secure_over_https(redis_url: str, storage: MemoryStorage) -> None:
    """Logged in over HTTPS, the session cookie is marked Secure."""
    client = make_app(redis_url, storage).test_client()
    base = "https://localhost"
    token = csrf_of(client.get("/admin/login", base_url=base).get_data(as_text=True))
    response = client.post(
        "/admin/login", data={"password": PASSWORD, "csrf": token}, base_url=base
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_attempts_are_rate_limited(redis_url: str, storage: MemoryStorage) -> None:
    """After ten attempts from one address even the right password waits."""
    client = make_app(redis_url, storage).test_client()
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    for _ in range(10):
        client.post("/admin/login", data={"password": "wrong", "csrf": token})
    answer = client.post("/admin/login", data={"password": PASSWORD, "csrf": token})
    assert answer.status_code == 429


def test_forms_without_the_csrf_token_change_nothing(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """A POST without the session's CSRF token is refused and nothing is deleted."""
    key = add_image(storage, index, "https://a.example.com/1")
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    for data in ({}, {"csrf": "forged"}):
        assert client.post(f"/admin/image/{key}/delete", data=data).status_code == 400
    assert storage.get(key)
    assert index.get(key) is not None


def test_list_is_newest_first_and_paginated(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """60 images make two pages of 50 and 10, newest first, thumbnails not full images."""
    for i in range(60):
        add_image(storage, index, f"https://a.example.com/p{i}", age=1000 - i)
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    first = client.get("/admin/").get_data(as_text=True)
    second = client.get("/admin/?page=2").get_data(as_text=True)
    assert first.count('class="card"') == 50
    assert second.count('class="card"') == 10
    assert first.index("/p59<") < first.index("/p58<")
    assert "full=1" not in first


def test_filter_search_and_sort(redis_url: str, storage: MemoryStorage, index: ImageIndex) -> None:
    """Host filter, URL substring search and sorting by size pick and order the entries."""
    add_image(storage, index, "https://a.example.com/scores/1", size=10)
    add_image(storage, index, "https://a.example.com/news/2", size=30)
    add_image(storage, index, "https://b.example.com/scores/3", size=20)
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    by_host = client.get("/admin/?host=b.example.com").get_data(as_text=True)
    assert by_host.count('class="card"') == 1
    searched = client.get("/admin/?q=scores").get_data(as_text=True)
    assert searched.count('class="card"') == 2
    both = client.get("/admin/?q=scores&host=a.example.com").get_data(as_text=True)
    assert both.count('class="card"') == 1
    by_size = client.get("/admin/?sort=size&order=asc").get_data(as_text=True)
    assert by_size.index("/scores/1<") < by_size.index("/scores/3<") < by_size.index("/news/2<")
    assert [h for h, _ in index.hosts()] == ["a.example.com", "b.example.com"]


def test_delete_bulk_delete_and_purge(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """Deleting removes the image, its thumbnail and its index entry; purge takes a host."""
    keys = [add_image(storage, index, f"https://a.example.com/{i}") for i in range(3)]
    other = add_image(storage, index, "https://b.example.com/x")
    client = make_app(redis_url, storage).test_client()
    token = log_in(client)
    client.post(f"/admin/image/{keys[0]}/delete", data={"csrf": token})
    with pytest.raises(FileNotFoundError):
        storage.get(keys[0])
    with pytest.raises(FileNotFoundError):
        storage.get(thumbnail_key(keys[0]))
    assert index.get(keys[0]) is None
    client.post("/admin/bulk", data={"csrf": token, "action": "delete", "keys": [keys[1]]})
    assert index.get(keys[1]) is None
    client.post("/admin/purge", data={"csrf": token, "host": "a.example.com"})
    assert index.count() == 1
    assert storage.get(other)
    assert [h for h, _ in index.hosts()] == ["b.example.com"]


def test_rerender_queues_a_forced_prewarm(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """Re-render (one or selected) queues a forced pre-warm job for the same options."""
    key = add_image(storage, index, "https://a.example.com/r")
    client = make_app(redis_url, storage).test_client()
    token = log_in(client)
    assert client.post(f"/admin/image/{key}/rerender", data={"csrf": token}).status_code == 302
    assert redis.Redis.from_url(redis_url).llen(PREWARM_QUEUE) == 1
    assert client.get(f"/admin/image/{key}").status_code == 200


def test_render_options_are_shown_and_kept_by_a_rerender(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """The detail page lists an image's render options; its re-render renders the same key
    with them (not the plain page)."""
    key = add_image(storage, index, "https://a.example.com/card", selector="#card",
                    hide=[".chat,.promo"], dark=True)  # fmt: skip
    client = make_app(redis_url, storage).test_client()
    token = log_in(client)
    html = client.get(f"/admin/image/{key}").get_data(as_text=True)
    assert "<code>selector=#card</code>" in html
    assert "<code>hide=.chat,.promo</code>" in html
    assert "selector=%23card" in html  # the snippet's image URL carries them
    client.post(f"/admin/image/{key}/rerender", data={"csrf": token})
    (raw,) = redis.Redis.from_url(redis_url).lrange(PREWARM_QUEUE, 0, -1)
    payload = json.loads(base64.b64decode(json.loads(raw)["body"]))[0][0]
    assert RenderRequest.from_payload(payload).cache_key() == key


def test_detail_shows_previews_and_snippet(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """The detail page has the image, its metadata (how the wait for the page ended too),
    link-card mock-ups and the snippet."""
    waited = "timeout: the network never went quiet (1 pending: https://a.example.com/poll)"
    key = add_image(storage, index, "https://a.example.com/board", title="Live board",
                    readiness=waited)  # fmt: skip
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    html = client.get(f"/admin/image/{key}").get_data(as_text=True)
    assert f'<dd class="readiness">{waited}</dd>' in html
    for part in ("x-card", "fb-card", "li-card", "slack-card", "Live board", "og:image",
                 "https%3A%2F%2Fa.example.com%2Fboard.png", "Re-render now"):  # fmt: skip
        assert part in html
    assert client.get("/admin/image/v1/zz/not-a-key.png").status_code == 404


def test_detail_says_what_the_wait_was_held_by_last(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """An image whose wait was held by a chart's drawing says so beside its readiness."""
    key = add_image(storage, index, "https://a.example.com/chart", waited="drawing on a canvas")
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    html = client.get(f"/admin/image/{key}").get_data(as_text=True)
    assert '<dd class="readiness">ready (waited last for drawing on a canvas)</dd>' in html
    thumb = client.get(f"/admin/file/{key}")
    assert thumb.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.data)).size[0] == 480
    assert client.get(f"/admin/file/{key}?full=1").data == storage.get(key).data


def test_a_failed_refresh_is_shown_until_a_render_works(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """The list and the detail page say which image's last refresh failed, when and why;
    the next good render clears it. An image that was never stored gets no entry."""
    key = add_image(storage, index, "https://a.example.com/turned-bad")
    other = add_image(storage, index, "https://a.example.com/fine")
    index.note_failure(key, "bot challenge (cloudflare)", "job-1")
    index.note_failure("v1/aa/never-stored.png", "HTTP 503", "job-2")
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    listing = client.get("/admin/").get_data(as_text=True)
    assert listing.count('class="refresh-failed"') == 1
    assert "bot challenge (cloudflare)" in listing
    detail = client.get(f"/admin/image/{key}").get_data(as_text=True)
    assert "bot challenge (cloudflare)" in detail
    assert "job-1" in detail
    assert "refresh-failed" not in client.get(f"/admin/image/{other}").get_data(as_text=True)
    assert index.get("v1/aa/never-stored.png") is None
    stored = storage.head(key)
    index.add(key, stored)
    assert index.get(key).failed is None  # type: ignore[union-attr]


def test_reindex_rebuilds_from_storage(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """An emptied index is rebuilt from storage (images only, not thumbnails)."""
    for i in range(5):
        add_image(storage, index, f"https://a.example.com/{i}")
    index.clear()
    assert index.count() == 0
    assert index.rebuild(storage) == 5
    assert index.page(search="a.example.com/3").total == 1


def test_queue_panel(redis_url: str, storage: MemoryStorage) -> None:
    """The queue page shows waiting jobs, live workers and recent failures."""
    jobs = JobStore(redis.Redis.from_url(redis_url, decode_responses=True), 2)
    jobs.worker_seen(
        "box-1",
        {"engine": "chromium", "job": "j", "url": "https://a.example.com/now", "since": "1"},
    )
    jobs.record_failure("j2", "https://a.example.com/broken", "HTTP 500")
    redis.Redis.from_url(redis_url).rpush(PREWARM_QUEUE, "x")
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    html = client.get("/admin/queue").get_data(as_text=True)
    assert "box-1" in html
    assert "https://a.example.com/now" in html
    assert "HTTP 500" in html
    assert re.search(r"ogshot.prewarm</td><td class=\"num\">1<", html)


def test_snippet_is_the_site_helpers_tags(
    redis_url: str, storage: MemoryStorage, index: ImageIndex
) -> None:
    """The detail page's snippet is the tag set og_tags writes, size and type included."""
    key = add_image(storage, index, "https://a.example.com/board")
    client = make_app(redis_url, storage).test_client()
    log_in(client)
    page = client.get(f"/admin/image/{key}").get_data(as_text=True)
    snippet = page.split('<textarea class="snippet"', 1)[1].split(">", 1)[1].split("</textarea>")[0]
    tags = html.unescape(snippet)
    assert tags == str(og_tags("http://localhost/", "https://a.example.com/board"))
    assert '<meta property="og:image:width" content="1200">' in tags
