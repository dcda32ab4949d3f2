"""The /image route through Flask's test client, with a real Redis and real Celery messages.

No worker runs here: a job is observed as the message Celery put on the Redis queue, and a
finished render is played by writing to storage and publishing on the real channel.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
import redis
from flask import Flask
from PIL import Image

from shared.jobs import MISS_QUEUE
from shared.keys import RenderRequest
from shared.redisconn import connect
from shared.singleflight import SingleFlight
from shared.storage import ImageMeta, Storage
from shared.storage.memory import MemoryStorage
from shared.storage.s3 import S3Storage, make_s3_client
from tests.helpers import local_app

PAGE = "http://127.0.0.1:9/board/42"


def make_app(redis_url: str, storage: Storage | None = None, **env: str) -> Flask:
    """Build the app on a real Redis with in-memory storage unless told otherwise."""
    settings = {"OGSHOT_ALLOWED_HOSTS": "127.0.0.1,example.com", "OGSHOT_MISS_WAIT": "0.3"}
    return local_app(redis_url, storage, **{**settings, **env})


def image_path(url: str, ext: str = "png") -> str:
    """The og:image path a site would write for ``url``."""
    return f"/image/{quote_plus(url)}.{ext}"


def queued(redis_url: str) -> list[dict[str, Any]]:
    """Return the payloads of the render jobs waiting in the Redis queue."""
    client = redis.Redis.from_url(redis_url)
    jobs = []
    for raw in client.lrange(MISS_QUEUE, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        jobs.append(args[0])
    return jobs


def lock_keys(redis_url: str) -> list[bytes]:
    """Return the single-flight locks present in Redis."""
    return list(redis.Redis.from_url(redis_url).scan_iter("ogshot:lock:*"))


def store_image(storage: Storage, url: str, *, age: float = 0, **options: Any) -> bytes:
    """Put a real PNG for ``url`` into storage as if rendered ``age`` seconds ago."""
    request = RenderRequest.build(url, **options)
    out = io.BytesIO()
    Image.new("RGB", request.pixel_size, (10, 20, 30)).save(out, "PNG")
    data = out.getvalue()
    meta = ImageMeta.describe(request, data, engine="firefox", render_ms=5)
    meta = ImageMeta(**{**meta.__dict__, "rendered_at": meta.rendered_at - age})
    storage.put(request.cache_key(), data, meta)
    return data


def test_hit_serves_the_bytes_with_cache_headers(redis_url: str) -> None:
    """A cached image is a 200 with its bytes, type, length, strong ETag and freshness."""
    storage = MemoryStorage()
    data = store_image(storage, PAGE, age=100)
    response = make_app(redis_url, storage).test_client().get(image_path(PAGE))
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["X-Ogshot-Cache"] == "hit"
    max_age = int(response.headers["Cache-Control"].split("max-age=")[1])
    assert 86400 - 102 <= max_age <= 86400 - 99
    assert response.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'  # strong
    assert queued(redis_url) == []


def test_head_and_if_none_match(redis_url: str) -> None:
    """HEAD has GET's headers and no body; a matching If-None-Match is a 304."""
    storage = MemoryStorage()
    data = store_image(storage, PAGE)
    client = make_app(redis_url, storage).test_client()
    etag = client.get(image_path(PAGE)).headers["ETag"]
    head = client.head(image_path(PAGE))
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["ETag"] == etag
    not_modified = client.get(image_path(PAGE), headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    changed = client.get(image_path(PAGE), headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200
    assert changed.data == data


def test_query_form_and_options_select_the_image(redis_url: str) -> None:
    """/image?url=&format= and w/h/scale address the image stored for those options."""
    storage = MemoryStorage()
    data = store_image(storage, PAGE, width=800, height=400, scale=2, format="webp")
    client = make_app(redis_url, storage).test_client()
    response = client.get(f"/image?url={quote_plus(PAGE)}&format=webp&w=800&h=400&scale=2")
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/webp"


def test_stale_image_is_served_and_refreshed_once(redis_url: str) -> None:
    """An image past the TTL is still served, marked stale, and queues exactly one refresh."""
    storage = MemoryStorage()
    data = store_image(storage, PAGE, age=90000)
    client = make_app(redis_url, storage).test_client()
    for _ in range(3):
        response = client.get(image_path(PAGE))
        assert response.data == data
        assert response.headers["X-Ogshot-Cache"] == "stale"
        assert response.headers["Cache-Control"] == "public, max-age=60"
    assert [job["url"] for job in queued(redis_url)] == [PAGE]


def test_concurrent_misses_queue_one_job_and_get_the_fallback(redis_url: str) -> None:
    """Many requests for one uncached image queue one job; past the wait each gets the fallback."""
    app = make_app(redis_url)
    responses = []

    def fetch() -> None:
        responses.append(app.test_client().get(image_path(PAGE)))

    threads = [threading.Thread(target=fetch) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(responses) == 10
    for response in responses:
        assert response.status_code == 200
        assert response.headers["X-Ogshot-Cache"] == "fallback"
        assert response.headers["Cache-Control"] == "public, max-age=30"
        assert Image.open(io.BytesIO(response.data)).size == (1200, 630)
    jobs = queued(redis_url)
    assert len(jobs) == 1
    assert jobs[0] == {**RenderRequest.build(PAGE).to_payload(), "force": False}


def play_worker(redis_url: str, storage: Storage, outcome: Callable[[], str]) -> threading.Thread:
    """Act as a worker: wait for the queued job, store the image (on success), publish."""

    def run() -> None:
        deadline = time.monotonic() + 5
        while not queued(redis_url) and time.monotonic() < deadline:
            time.sleep(0.02)
        result = outcome()
        if result == "ok":
            store_image(storage, PAGE)
        SingleFlight(connect(redis_url), 60).publish_done(
            RenderRequest.build(PAGE).cache_key(), result
        )

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("worker_says", "cache"),
    [
        # A waiting request gets the image (X-Ogshot-Cache: miss) when the render ends.
        ("ok", "miss"),
        # When the worker reports a failure, waiting requests get the fallback at once.
        ("failed: HTTP 500", "fallback"),
    ],
)
def test_a_waiting_miss_hears_how_the_render_ended(
    redis_url: str, worker_says: str, cache: str
) -> None:
    """The answer comes when the worker's outcome is heard on the channel, not by waiting
    out OGSHOT_MISS_WAIT: the image, or the fallback."""
    storage = MemoryStorage()
    worker = play_worker(redis_url, storage, lambda: worker_says)
    started = time.monotonic()
    response = (
        make_app(redis_url, storage, OGSHOT_MISS_WAIT="10").test_client().get(image_path(PAGE))
    )
    worker.join()
    assert response.status_code == 200
    assert response.headers["X-Ogshot-Cache"] == cache
    if cache == "miss":
        assert response.data == storage.get(RenderRequest.build(PAGE).cache_key()).data
    assert time.monotonic() - started < 30  # heard on the channel, not by waiting it out


def test_waiting_is_bounded_per_process(redis_url: str) -> None:
    """With no waiting slot free a miss gets the fallback at once, and its job is still queued."""
    app = make_app(redis_url, OGSHOT_MAX_WAITING="0", OGSHOT_MISS_WAIT="60")
    started = time.monotonic()
    response = app.test_client().get(image_path(PAGE))
    assert time.monotonic() - started < 30  # not the 60 s wait
    assert response.headers["X-Ogshot-Cache"] == "fallback"
    assert len(queued(redis_url)) == 1


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        (image_path("https://example.com.evil.net/"), 403, "not in OGSHOT_ALLOWED_HOSTS"),
        (image_path("https://example.com@evil.net/"), 403, "user information"),
        (image_path("http://127.0.0.2/"), 403, "not in OGSHOT_ALLOWED_HOSTS"),
        (image_path("file:///etc/passwd"), 403, "only http and https"),
        (image_path("javascript:alert(1)"), 403, "only http and https"),
        (image_path("http://[::ffff:127.0.0.1]/"), 403, "not in OGSHOT_ALLOWED_HOSTS"),
        (image_path("http://0x7f000002/"), 403, "not in OGSHOT_ALLOWED_HOSTS"),
        (image_path(PAGE, "gif"), 400, "must end in"),
        ("/image/" + quote_plus(PAGE), 400, "must end in"),
        (image_path("not a url"), 400, "whitespace"),
        (image_path("http://127.0.0.1:99999/"), 400, "malformed"),
        (image_path(PAGE) + "?w=100", 400, "w must be"),
        (image_path(PAGE) + "?h=5000", 400, "h must be"),
        (image_path(PAGE) + "?scale=3", 400, "scale must be"),
        (image_path("http://" + "a" * 1600 + ".com/"), 400, "longer than"),
        ("/image?format=png", 400, "no page URL"),
        (f"/image?url={quote_plus(PAGE)}&format=svg", 400, "format must be"),
        (image_path(PAGE) + "?hide=" + quote_plus("div >"), 400, "hide is not a valid CSS"),
        (image_path(PAGE) + "?wait_for=" + quote_plus("a}b{"), 400, "wait_for must be"),
        (image_path(PAGE) + "?selector=" + quote_plus("#"), 400, "selector is not a valid"),
        (image_path(PAGE) + "?selector=" + "a" * 301, 400, "at most 300"),
        (image_path(PAGE) + "?delay=10001", 400, "delay must be"),
        (image_path(PAGE + "?" + "x" * 1400) + "?hide=" + "a" * 200, 400, "together"),
        (image_path(PAGE) + "?delay=soon", 400, "delay must be"),
        (image_path(PAGE) + "?dark=maybe", 400, "dark must be"),
        (image_path(PAGE) + "?" + "&".join(["hide=.a"] * 11), 400, "at most 10 times"),
    ],
)
def test_bad_requests_get_a_reason_and_queue_nothing(
    redis_url: str, path: str, status: int, reason: str
) -> None:
    """Refused URLs are 403 and malformed requests 400, one line of reason, nothing queued."""
    response = make_app(redis_url).test_client().get(path)
    assert response.status_code == status
    assert reason in response.get_data(as_text=True)
    assert response.get_data(as_text=True).count("\n") == 1
    assert queued(redis_url) == []
    assert lock_keys(redis_url) == []


def test_plus_signs_and_escapes_in_the_page_url_survive(redis_url: str) -> None:
    """quote_plus encoding is undone exactly: "+" and escapes in the page URL are kept."""
    page = "http://127.0.0.1:9/a+b%20c?q=x%2By&r=1"
    response = make_app(redis_url).test_client().get(image_path(page))
    assert response.status_code == 200
    assert [job["url"] for job in queued(redis_url)] == ["http://127.0.0.1:9/a+b%20c?q=x%2By&r=1"]


def test_unencoded_page_url_in_the_path_works(redis_url: str) -> None:
    """A site that forgot to encode still gets its image: the path keeps "//" intact."""
    storage = MemoryStorage()
    data = store_image(storage, PAGE)
    response = make_app(redis_url, storage).test_client().get(f"/image/{PAGE}.png")
    assert response.status_code == 200
    assert response.data == data


def test_redis_outage_keeps_hits_and_gives_misses_the_fallback(redis_url: str) -> None:
    """With Redis down, cached images are served and misses get the fallback, never a 500."""
    storage = MemoryStorage()
    data = store_image(storage, PAGE)
    client = make_app("redis://127.0.0.1:9/0", storage).test_client()
    assert client.get(image_path(PAGE)).data == data
    miss = client.get(image_path("http://127.0.0.1:9/other"))
    assert miss.status_code == 200
    assert miss.headers["X-Ogshot-Cache"] == "fallback"


def test_storage_outage_gives_the_fallback(redis_url: str) -> None:
    """With the store unreachable a request gets the fallback, never a 500."""
    storage = S3Storage(make_s3_client("http://127.0.0.1:9"), "bucket")
    response = make_app(redis_url, storage).test_client().get(image_path(PAGE))
    assert response.status_code == 200
    assert response.headers["X-Ogshot-Cache"] == "fallback"


def test_operator_fallback_image_replaces_the_drawn_one(redis_url: str, tmp_path: Path) -> None:
    """OGSHOT_FALLBACK_IMAGE is served as the fallback, with its own type."""
    path = tmp_path / "brand.jpg"
    Image.new("RGB", (1200, 630), (1, 2, 3)).save(path, "JPEG")
    app = make_app(redis_url, OGSHOT_FALLBACK_IMAGE=str(path), OGSHOT_MAX_WAITING="0")
    response = app.test_client().get(image_path(PAGE))
    assert response.headers["X-Ogshot-Cache"] == "fallback"
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.data == path.read_bytes()


def test_health_and_index(redis_url: str) -> None:
    """/healthz answers 200 and / explains the og:image snippet."""
    client = make_app(redis_url).test_client()
    assert client.get("/healthz").status_code == 200
    assert "og:image" in client.get("/").get_data(as_text=True)
    assert client.get("/nope").status_code == 404


def test_the_readme_jinja_snippet_addresses_the_image(redis_url: str) -> None:
    """The og:image URL built by the README's Jinja filter chain finds the stored image."""
    from jinja2 import Environment

    storage = MemoryStorage()
    page = "http://127.0.0.1:9/board/42?lang=en&x=a+b"
    data = store_image(storage, page)
    template = Environment(autoescape=True).from_string(
        "/image/{{ url | urlencode | replace('/', '%2F') }}.png"
    )
    path = template.render(url=page)
    response = make_app(redis_url, storage).test_client().get(path)
    assert response.status_code == 200
    assert response.data == data


def test_request_log_line_names_key_task_and_duration(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each image request logs one line with the cache key, the render task's id and the time."""
    caplog.set_level("INFO", logger="web.access")
    make_app(redis_url).test_client().get(image_path(PAGE))
    raw = redis.Redis.from_url(redis_url).lrange(MISS_QUEUE, 0, -1)[0]
    task_id = json.loads(raw)["headers"]["id"]
    lines = [r.getMessage() for r in caplog.records if r.name == "web.access"]
    key = RenderRequest.build(PAGE).cache_key()
    assert lines == [
        f"GET {PAGE} key={key} task={task_id} cache=fallback status=200 ms="
        + lines[0].rsplit("=", 1)[1]
    ], lines


def test_tracking_parameters_share_the_page_image(redis_url: str) -> None:
    """Links shared with utm_*, fbclid or gclid are the page's one image; other parameters
    are kept, in their order."""
    storage = MemoryStorage()
    data = store_image(storage, PAGE + "?team=red&page=2")
    client = make_app(redis_url, storage).test_client()
    for shared in ("?utm_source=x&team=red&fbclid=abc&page=2&utm_medium=social",
                   "?team=red&gclid=1&page=2"):  # fmt: skip
        response = client.get(image_path(PAGE + shared))
        assert response.headers["X-Ogshot-Cache"] == "hit", shared
        assert response.data == data
    client.get(image_path(PAGE + "?utm_campaign=spring"))
    assert [job["url"] for job in queued(redis_url)] == [PAGE]


def test_site_defaults_apply_under_the_url_options(redis_url: str, tmp_path: Path) -> None:
    """The sites file's options are rendered (and keyed) for its hosts; the URL's own win;
    its ignore_params replace OGSHOT_IGNORE_PARAMS for the site."""
    sites = tmp_path / "sites.toml"
    sites.write_text(
        '[sites."127.0.0.1"]\nhide = [".chat"]\ndark = true\nignore_params = ["ref"]\n'
    )
    client = make_app(redis_url, OGSHOT_SITES_FILE=str(sites)).test_client()
    client.get(image_path(PAGE + "?ref=mail&utm_source=x"))
    client.get(image_path(PAGE) + "?dark=0&hide=.nav")
    second, first = sorted(queued(redis_url), key=lambda job: job["dark"])
    assert (first["url"], first["hide"], first["dark"]) == (PAGE + "?utm_source=x", [".chat"], True)
    assert (second["url"], second["hide"], second["dark"]) == (PAGE, [".nav"], False)
    plain = RenderRequest.build(PAGE + "?utm_source=x").cache_key()
    assert RenderRequest.from_payload(first).cache_key() != plain
