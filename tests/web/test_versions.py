"""Versioned image URLs (v=) through the /image route and the pre-warm API, with a real Redis.

No worker runs here: a job is the message Celery put on the Redis queue, and a finished
render is played by writing to storage and publishing on the real channel.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from urllib.parse import quote_plus

import pytest
import redis
from ogshot_client import og_image_url

from shared.keys import RenderRequest
from shared.redisconn import connect
from shared.singleflight import SingleFlight
from shared.storage import ImageMeta, Storage
from shared.storage.memory import MemoryStorage
from shared.versions import WANTED_PREFIX
from tests.web.test_api import AUTH, messages
from tests.web.test_api import make_app as api_app
from tests.web.test_image_route import image_path, make_app, queued, store_image

PAGE = "http://127.0.0.1:9/board/42"
KEY = RenderRequest.build(PAGE).cache_key()
SIGNING_KEY = "signing-key-0123456789"


def store_versions(storage: Storage, *versions: str, age: float = 0) -> bytes:
    """Store an image of PAGE that shows ``versions``."""
    data = store_image(storage, PAGE, age=age)
    meta = dataclasses.replace(storage.head(KEY), versions=versions)
    storage.put(KEY, data, meta)
    return data


def wanted(redis_url: str, key: str = KEY) -> list[str]:
    """The versions waiting for a render of ``key``."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return list(client.zrange(WANTED_PREFIX + key, 0, -1))


def test_a_known_version_is_a_hit(redis_url: str) -> None:
    """A version the image shows is served as any hit: no job, nothing asked of Redis."""
    storage = MemoryStorage()
    data = store_versions(storage, "1", "2")
    client = make_app(redis_url, storage).test_client()
    for version in ("1", "2"):
        response = client.get(image_path(PAGE) + f"?v={version}")
        assert response.headers["X-Ogshot-Cache"] == "hit"
        assert response.data == data
    assert queued(redis_url) == []
    assert wanted(redis_url) == []


def test_the_version_is_not_part_of_the_key(redis_url: str) -> None:
    """A URL with v= names the image its URL without names: same key, same stored image."""
    storage = MemoryStorage()
    data = store_versions(storage, "7")
    client = make_app(redis_url, storage).test_client()
    assert client.get(image_path(PAGE)).data == client.get(image_path(PAGE) + "?v=7").data == data


def test_a_new_version_of_a_fresh_image_queues_a_forced_render(redis_url: str) -> None:
    """A version the fresh image does not show: one forced job, the version wanted; past the
    wait, the image from before it under the fallback's short cache life."""
    storage = MemoryStorage()
    data = store_versions(storage, "1")
    client = make_app(redis_url, storage).test_client()
    response = client.get(image_path(PAGE) + "?v=2")
    assert response.status_code == 200
    assert response.headers["X-Ogshot-Cache"] == "previous"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert response.headers["X-Ogshot-Reason"] == "render pending"
    assert response.data == data
    assert queued(redis_url) == [{**RenderRequest.build(PAGE).to_payload(), "force": True}]
    assert wanted(redis_url) == ["2"]
    again = client.get(image_path(PAGE) + "?v=2")
    assert again.headers["X-Ogshot-Cache"] == "previous"
    assert len(queued(redis_url)) == 1  # single-flight: the running render is the one


def test_a_new_version_without_any_image_gets_the_fallback(redis_url: str) -> None:
    """No image at all: the fallback, as any miss, and the version waits for the render."""
    response = make_app(redis_url).test_client().get(image_path(PAGE) + "?v=2")
    assert response.headers["X-Ogshot-Cache"] == "fallback"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert queued(redis_url)[0]["force"] is True
    assert wanted(redis_url) == ["2"]


def test_a_render_that_started_before_the_version_does_not_answer_it(redis_url: str) -> None:
    """A render that ends without the version (it began before the version was asked for)
    leaves the request waiting; the render that records it answers it."""
    storage = MemoryStorage()
    store_versions(storage, "1")
    flight = SingleFlight(connect(redis_url), 60)
    answers = []

    def fetch() -> None:
        app = make_app(redis_url, storage, OGSHOT_MISS_WAIT="10")
        answers.append(app.test_client().get(image_path(PAGE) + "?v=2"))

    thread = threading.Thread(target=fetch)
    thread.start()
    deadline = time.monotonic() + 5
    while not queued(redis_url) and time.monotonic() < deadline:
        time.sleep(0.02)
    store_versions(storage, "1")  # the render already running: it does not record "2"
    flight.publish_done(KEY, "ok")
    time.sleep(0.5)
    assert not answers, "answered by a render that did not record the version"
    newer = store_versions(storage, "1", "2")
    flight.publish_done(KEY, "ok")
    thread.join(10)
    (response,) = answers
    assert response.headers["X-Ogshot-Cache"] == "miss"
    assert response.data == newer


def test_new_versions_count_as_misses_against_the_client_limit(redis_url: str) -> None:
    """Past OGSHOT_CLIENT_MISSES_PER_MINUTE a new version queues nothing more."""
    storage = MemoryStorage()
    data = store_versions(storage, "1")
    client = make_app(redis_url, storage, OGSHOT_CLIENT_MISSES_PER_MINUTE="1").test_client()
    client.get(image_path(PAGE) + "?v=2")
    response = client.get(image_path(PAGE) + "?v=3")
    assert response.headers["X-Ogshot-Reason"] == "client miss limit reached"
    assert response.headers["Cache-Control"] == "public, max-age=30"
    assert response.data == data
    assert len(queued(redis_url)) == 1
    assert wanted(redis_url) == ["2"]


@pytest.mark.parametrize("version", ["", "a" * 65, "a b", "a/b", "%C3%A9", "a%0Ab", "1&v=2"])
def test_bad_versions_are_a_400_and_queue_nothing(redis_url: str, version: str) -> None:
    """v= empty, too long or with other characters: 400 with a one-line reason."""
    response = make_app(redis_url).test_client().get(image_path(PAGE) + f"?v={version}")
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith("v must be")
    assert response.get_data(as_text=True).count("\n") == 1
    assert queued(redis_url) == []
    assert wanted(redis_url) == []


def test_signatures_cover_the_version(redis_url: str) -> None:
    """A signed URL with v= verifies; another v, a dropped v, or one added is 403."""
    storage = MemoryStorage()
    store_versions(storage, "1", "2")
    client = make_app(redis_url, storage, OGSHOT_SIGNING_KEYS=SIGNING_KEY).test_client()

    def path(url: str) -> str:
        return url.removeprefix("http://x")

    with_v = path(og_image_url("http://x", PAGE, signing_key=SIGNING_KEY, version="1"))
    without = path(og_image_url("http://x", PAGE, signing_key=SIGNING_KEY))
    assert client.get(with_v).headers["X-Ogshot-Cache"] == "hit"
    assert client.get(without).headers["X-Ogshot-Cache"] == "hit"
    signature = with_v.rsplit("s=", 1)[1]
    for bad in (with_v.replace("v=1", "v=2"), with_v.replace("v=1&", ""),
                f"{without}&v=2", f"{image_path(PAGE)}?v=2&s={signature}"):  # fmt: skip
        assert client.get(bad).status_code == 403, bad
    assert queued(redis_url) == []


def test_prewarm_wants_each_urls_version_before_its_job(redis_url: str) -> None:
    """The batch's v, or a URL's own, is wanted of its key before the job is queued; the
    job and its image URL carry it."""
    client = api_app(redis_url).test_client()
    other = "http://127.0.0.1:9/board/43"
    answer = client.post(
        "/api/prewarm",
        json={"urls": [PAGE, {"url": other, "v": "own"}], "v": "batch"},
        headers=AUTH,
    )
    assert answer.status_code == 202
    first, second = answer.json["jobs"]
    assert first["version"] == "batch"
    assert first["image_url"].endswith(f"/image/{quote_plus(PAGE)}.png?v=batch")
    assert second["version"] == "own"
    assert wanted(redis_url) == ["batch"]
    assert wanted(redis_url, RenderRequest.build(other).cache_key()) == ["own"]
    job = client.get(f"/api/jobs/{first['id']}", headers=AUTH).json
    assert job["version"] == "batch"
    assert job["image_url"].endswith("?v=batch")


def test_prewarm_refuses_bad_versions_before_anything_is_queued(redis_url: str) -> None:
    """A bad v anywhere in the batch: 400 naming where, nothing queued or wanted."""
    client = api_app(redis_url).test_client()
    for body, where in (
        ({"urls": [PAGE], "v": "a b"}, "v must"),
        ({"urls": [PAGE, {"url": PAGE, "v": "x" * 65}]}, "urls[1].v must"),
        ({"urls": [PAGE], "v": 7}, "v must"),
    ):
        answer = client.post("/api/prewarm", json=body, headers=AUTH)
        assert answer.status_code == 400
        assert answer.json["error"].startswith(where)
    assert messages(redis_url, "ogshot.prewarm") == []
    assert wanted(redis_url) == []


def test_webhooks_off_the_list_are_refused_before_anything_is_queued(redis_url: str) -> None:
    """A webhook_url whose host is not in OGSHOT_WEBHOOK_HOSTS, or any webhook when the list
    is empty, is a 400 naming it; nothing is queued, wanted or recorded."""
    secret = "webhook-secret-0123456789abcdef0123"
    listed = api_app(redis_url, OGSHOT_WEBHOOK_HOSTS="hooks.example.com",
                     OGSHOT_WEBHOOK_SECRET=secret).test_client()  # fmt: skip
    refused = (
        "https://evil.example/hook",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "https://hooks.example.com:99999/",
    )
    for url in refused:
        body = {"urls": [PAGE], "v": "2", "webhook_url": url}
        answer = listed.post("/api/prewarm", json=body, headers=AUTH)
        assert answer.status_code == 400, url
        assert url in answer.json["error"]
    closed = api_app(redis_url).test_client()
    body = {"urls": [PAGE], "webhook_url": "https://hooks.example.com/x"}
    answer = closed.post("/api/prewarm", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert "OGSHOT_WEBHOOK_HOSTS" in answer.json["error"]
    assert messages(redis_url, "ogshot.prewarm") == []
    assert wanted(redis_url) == []
    assert list(redis.Redis.from_url(redis_url).scan_iter("ogshot:job:*")) == []


def test_meta_keeps_versions_through_json() -> None:
    """The versions survive the metadata's JSON as a tuple."""
    meta = ImageMeta.describe(RenderRequest.build(PAGE), b"x", engine="firefox", render_ms=1)
    meta = dataclasses.replace(meta, versions=("1", "2"))
    assert ImageMeta.from_json(meta.to_json()) == meta


def test_the_openapi_document_names_versions_and_webhooks() -> None:
    """v (batch and per URL), webhook_url (batch), and the jobs' version and webhook status."""
    from web.openapi import openapi_document

    schemas = openapi_document()["components"]["schemas"]
    request = schemas["PrewarmRequest"]["properties"]
    assert request["v"]["pattern"] == "^[A-Za-z0-9._:-]{1,64}$"
    assert "webhook_url" in request
    per_url = request["urls"]["items"]["oneOf"][1]["properties"]
    assert "v" in per_url
    assert "webhook_url" not in per_url
    assert {"version", "webhook"} <= set(schemas["Job"]["properties"])
    assert "version" in schemas["PrewarmJob"]["properties"]
