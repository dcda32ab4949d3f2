"""The JSON API through Flask's test client, with a real Redis (no worker runs here)."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis
from flask import Flask

from shared.jobs import MISS_QUEUE, PREWARM_QUEUE
from shared.keys import RenderRequest
from tests.helpers import local_app

TOKEN = "api-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAGE = "http://127.0.0.1:9/board/42"


def make_app(redis_url: str, **env: str) -> Flask:
    """The app with the API open to TOKEN."""
    return local_app(redis_url, **{"OGSHOT_API_TOKENS": f"other-token-0123456789,{TOKEN}", **env})


def messages(redis_url: str, queue: str) -> list[dict[str, Any]]:
    """The payloads waiting in a Celery queue."""
    client = redis.Redis.from_url(redis_url)
    return [
        json.loads(base64.b64decode(json.loads(raw)["body"]))[0][0]
        for raw in client.lrange(queue, 0, -1)
    ]


def test_prewarm_queues_forced_jobs_on_the_prewarm_queue(redis_url: str) -> None:
    """Accepted URLs become forced pre-warm jobs on their own queue; repeats gather into one."""
    client = make_app(redis_url).test_client()
    first = client.post("/api/prewarm", json={"urls": [PAGE, PAGE], "w": 800}, headers=AUTH)
    second = client.post("/api/prewarm", json={"urls": [PAGE], "w": 800}, headers=AUTH)
    assert first.status_code == second.status_code == 202
    ids = {job["id"] for job in first.json["jobs"] + second.json["jobs"]}
    assert len(ids) == 1
    queued = messages(redis_url, PREWARM_QUEUE)
    assert len(queued) == 1
    assert queued[0]["force"] is True
    assert queued[0]["prewarm"] is True
    assert queued[0]["width"] == 800
    assert messages(redis_url, MISS_QUEUE) == []
    job = client.get(f"/api/jobs/{ids.pop()}", headers=AUTH).json
    assert job["status"] == "queued"
    assert (
        job["image_url"]
        == "http://localhost/image/http%3A%2F%2F127.0.0.1%3A9%2Fboard%2F42.png?w=800"
    )


def test_api_is_closed_without_tokens(redis_url: str) -> None:
    """With no OGSHOT_API_TOKENS every API call is refused, saying why."""
    client = local_app(redis_url).test_client()
    answer = client.post("/api/prewarm", json={"urls": [PAGE]}, headers=AUTH)
    assert answer.status_code == 401
    assert "OGSHOT_API_TOKENS" in answer.json["error"]
    assert client.get("/api/openapi.json").status_code == 200  # the document stays public


def test_redis_outage_is_503_and_accepts_nothing(redis_url: str) -> None:
    """While Redis is down a pre-warm is refused with 503 and a reason."""
    client = make_app("redis://127.0.0.1:9/0").test_client()
    answer = client.post("/api/prewarm", json={"urls": [PAGE]}, headers=AUTH)
    assert answer.status_code == 503
    assert "queue unavailable" in answer.json["error"]


def test_wrong_scheme_or_token_is_401(redis_url: str) -> None:
    """Basic auth, an empty bearer and a near-miss token are all refused."""
    client = make_app(redis_url).test_client()
    for header in ("Basic " + TOKEN, "Bearer ", "Bearer " + TOKEN[:-1], TOKEN):
        answer = client.post(
            "/api/prewarm", json={"urls": [PAGE]}, headers={"Authorization": header}
        )
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert messages(redis_url, PREWARM_QUEUE) == []
    long_url = PAGE + "?" + "x" * 1400
    body = {"urls": [PAGE, long_url], "hide": ["a" * 200]}
    answer = client.post("/api/prewarm", json=body, headers=AUTH)
    assert answer.status_code == 202
    assert [job["url"] for job in answer.json["jobs"]] == [PAGE]
    assert "together" in answer.json["rejected"][0]["reason"]


def test_prewarm_takes_render_options_per_batch_and_per_url(redis_url: str) -> None:
    """Batch options apply to every URL; a URL's own options win; jobs and image URLs carry
    them, and each set of options is an image of its own."""
    client = make_app(redis_url).test_client()
    body = {
        "urls": [PAGE, {"url": PAGE, "selector": "#card", "dark": False}],
        "hide": [".chat,.promo"],
        "dark": True,
    }
    answer = client.post("/api/prewarm", json=body, headers=AUTH)
    assert answer.status_code == 202, answer.json
    first, second = answer.json["jobs"]
    assert first["key"] != second["key"]
    assert first["image_url"].endswith("?hide=.chat%2C.promo&dark=1")
    assert second["image_url"].endswith("?hide=.chat%2C.promo&selector=%23card")
    queued = {m["selector"]: m for m in messages(redis_url, PREWARM_QUEUE)}
    assert queued[""]["hide"] == [".chat,.promo"]
    assert queued[""]["dark"] is True
    assert queued["#card"]["dark"] is False


def test_prewarm_refuses_bad_options_naming_them_and_queues_nothing(redis_url: str) -> None:
    """A bad option, in the batch or in one URL, is a 400 that names it; nothing is queued."""
    client = make_app(redis_url).test_client()
    for body, named in [
        ({"urls": [PAGE], "hide": "div"}, "hide must be a JSON list"),
        ({"urls": [PAGE], "dark": 1}, "dark must be a JSON boolean"),
        ({"urls": [PAGE], "delay": True}, "delay must be a JSON integer"),
        ({"urls": [PAGE, {"url": PAGE, "wait_for": "div >"}]}, "urls[1].wait_for is not a valid"),
        ({"urls": [{"url": PAGE, "colour": "red"}]}, "urls[0]: unknown field(s): colour"),
        ({"urls": [{"href": PAGE}]}, "urls[0] must be a URL or an object with a url"),
    ]:
        answer = client.post("/api/prewarm", json=body, headers=AUTH)
        assert answer.status_code == 400, body
        assert named in answer.json["error"], answer.json
    assert messages(redis_url, PREWARM_QUEUE) == []


def test_prewarm_renders_what_the_image_url_renders(redis_url: str, tmp_path: Any) -> None:
    """With a sites file and a tracking parameter, a pre-warm renders the image the page's
    og:image URL names (same key): the file's defaults under the body's options, no utm_*."""
    sites = tmp_path / "sites.toml"
    sites.write_text('[sites."127.0.0.1"]\nhide = [".chat"]\n')
    client = make_app(redis_url, OGSHOT_SITES_FILE=str(sites)).test_client()
    answer = client.post("/api/prewarm", json={"urls": [PAGE + "?utm_source=x"]}, headers=AUTH)
    (job,) = answer.json["jobs"]
    (payload,) = messages(redis_url, PREWARM_QUEUE)
    assert (payload["url"], payload["hide"]) == (PAGE, [".chat"])
    assert job["key"] == RenderRequest.build(PAGE, hide=[".chat"]).cache_key()
