"""Versioned image URLs and pre-warm webhooks through the whole stack, with a real receiver.

A version changes nothing an engine or a store does alone: these run on two stacks, one of
each engine and each store (conftest.TWO_STACKS).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
import requests
from ogshot_client import SIGNATURE_HEADER, og_image_url, verify_webhook

from shared.jobs import PREWARM_QUEUE
from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    SIGNING_KEY,
    TOKEN,
    WEBHOOK_HORIZON,
    WEBHOOK_SECRET,
    Stack,
)
from tests.e2e.test_prewarm import RED, centre, live_page
from tests.receiver import HANG, Receiver, receiving

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server, pytest.mark.two_stacks]
GREEN, BLUE = (0, 255, 0), (0, 0, 255)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The site's webhook endpoint, on 127.0.0.1 (in the stacks' OGSHOT_WEBHOOK_HOSTS)."""
    yield from receiving()


def get(url: str) -> requests.Response:
    """GET an image URL."""
    return requests.get(url, timeout=60)


def max_age(response: requests.Response) -> int:
    """The max-age the answer's Cache-Control gives."""
    match = re.search(r"max-age=(\d+)", response.headers["Cache-Control"])
    assert match, response.headers["Cache-Control"]
    return int(match.group(1))


def test_new_known_and_old_versions(stack: Stack) -> None:
    """A new version renders the page as it is now, even while the stored image is fresh;
    a known one is a hit; an old one after a newer render is a hit too, with no render."""
    url, path = live_page(stack, "versions", "ff0000")
    first = get(stack.image_url(url) + "?v=1")
    assert first.headers["X-Ogshot-Cache"] == "miss"
    assert centre(first.content) == RED
    assert stack.pages.count(path) == 1
    again = get(stack.image_url(url) + "?v=1")
    assert again.headers["X-Ogshot-Cache"] == "hit"
    assert stack.pages.count(path) == 1

    stack.pages.colours[path.split("/")[2]] = "0000ff"  # the score changed
    assert get(stack.image_url(url)).content == first.content  # unversioned: still fresh
    fresh = get(stack.image_url(url) + "?v=2")
    assert stack.pages.count(path) == 2  # a render happened although the image was fresh
    if fresh.headers["X-Ogshot-Cache"] == "miss":
        assert centre(fresh.content) == BLUE
        assert max_age(fresh) > 3600
    else:  # never the older image under a long cache life
        assert max_age(fresh) <= 30
    assert centre(get(stack.image_url(url) + "?v=2").content) == BLUE

    old = get(stack.image_url(url) + "?v=1")
    assert old.headers["X-Ogshot-Cache"] == "hit"
    assert centre(old.content) == BLUE  # the image as it is: the newest render
    assert stack.pages.count(path) == 2


def test_a_new_version_not_ready_in_time_is_short_lived(stack: Stack) -> None:
    """Past the wait (the impatient web), the answer to a new version is the image from
    before it with the fallback's short cache life, and the render goes on."""
    url, path = live_page(stack, "slow-version", "ff0000", delay="1")
    assert centre(get(stack.image_url(url) + "?v=a").content) == RED
    stack.pages.colours[path.split("/")[2]] = "0000ff"
    early = get(stack.image_url(url, web=stack.impatient_web) + "?v=b")
    assert early.headers["X-Ogshot-Cache"] == "previous"
    assert max_age(early) == 30
    assert centre(early.content) == RED
    later = get(stack.image_url(url) + "?v=b")  # the patient web waits for the same render
    assert centre(later.content) == BLUE
    assert stack.pages.count(path) == 2


def test_versions_are_kept_per_cache_key(stack: Stack) -> None:
    """One page's PNG and JPEG are two images: a version the PNG shows is new to the JPEG."""
    url, path = live_page(stack, "per-key", "ff0000")
    assert get(stack.image_url(url) + "?v=7").headers["X-Ogshot-Cache"] == "miss"
    assert get(stack.image_url(url, "jpg") + "?v=7").headers["X-Ogshot-Cache"] == "miss"
    assert stack.pages.count(path) == 2
    assert get(stack.image_url(url, "jpg") + "?v=7").headers["X-Ogshot-Cache"] == "hit"
    assert get(stack.image_url(url) + "?v=7").headers["X-Ogshot-Cache"] == "hit"


def test_prewarm_with_a_version_and_a_webhook_then_a_crawler_hits(
    stack: Stack, receiver: Receiver
) -> None:
    """The pre-warm renders, records the version and calls the webhook, signed; the image
    URL it names is then a hit. The job, the admin pages and the metrics show the delivery."""
    url, path = live_page(stack, "prewarm-version", "00ff00")
    hook = receiver.url("/hook")
    answer = stack.api("POST", "/api/prewarm", json={"urls": [url], "v": "g1", "webhook_url": hook})
    assert answer.status_code == 202
    (job,) = answer.json()["jobs"]
    (call,) = receiver.wait_for("/hook", 1)
    event = verify_webhook(WEBHOOK_SECRET, call.headers[SIGNATURE_HEADER], call.body)
    assert event["id"] == job["id"]
    assert event["status"] == "done"
    assert event["error"] is None
    assert event["version"] == "g1"
    assert event["page_url"] == url
    assert event["render_ms"] > 0
    assert event["image_url"] == stack.image_url(url) + "?v=g1"
    crawler = get(event["image_url"])
    assert crawler.headers["X-Ogshot-Cache"] == "hit"
    assert centre(crawler.content) == GREEN
    assert stack.pages.count(path) == 1
    status = stack.wait_job(job["id"])
    assert status["version"] == "g1"
    deadline = time.monotonic() + 10
    while not str(stack.wait_job(job["id"])["webhook"]).startswith("delivered"):
        assert time.monotonic() < deadline, stack.wait_job(job["id"])
        time.sleep(0.1)
    assert stack.wait_job(job["id"])["webhook"] == "delivered: HTTP 200 (1 attempt)"

    admin = requests.Session()
    login = admin.get(f"{stack.web}/admin/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    admin.post(f"{stack.web}/admin/login", data={"password": ADMIN_PASSWORD, "csrf": csrf},
               timeout=30)  # fmt: skip
    detail = admin.get(f"{stack.web}/admin/image/{job['key']}", timeout=30).text
    assert "<code>g1</code>" in detail
    assert "delivered: HTTP 200 (1 attempt)" in detail
    panel = admin.get(f"{stack.web}/admin/queue", timeout=30).text
    assert hook in panel
    metrics = requests.get(stack.worker_metrics, timeout=30).text
    assert re.search(r'ogshot_webhook_deliveries_total\{outcome="delivered"\} [1-9]', metrics)


def test_two_debounced_prewarms_record_both_versions_and_call_both_webhooks(
    stack: Stack, receiver: Receiver
) -> None:
    """Two pre-warms within the debounce: one render, both versions hits, each webhook
    called once with its own version."""
    url, path = live_page(stack, "two-prewarms", "ff0000")
    ids = set()
    for version, hook in (("1", "/one"), ("2", "/two")):
        body = {"urls": [url], "v": version, "webhook_url": receiver.url(hook)}
        ids |= {job["id"] for job in stack.api("POST", "/api/prewarm", json=body).json()["jobs"]}
    (job_id,) = ids
    for version, hook in (("1", "/one"), ("2", "/two")):
        (call,) = receiver.wait_for(hook, 1)
        event = verify_webhook(WEBHOOK_SECRET, call.headers[SIGNATURE_HEADER], call.body)
        assert (event["id"], event["version"], event["status"]) == (job_id, version, "done")
    assert stack.pages.count(path) == 1
    for version in ("1", "2"):
        assert get(stack.image_url(url) + f"?v={version}").headers["X-Ogshot-Cache"] == "hit"
    assert stack.pages.count(path) == 1
    time.sleep(1)
    assert len(receiver.to("/one")) == len(receiver.to("/two")) == 1


def test_failing_and_silent_receivers(stack: Stack, receiver: Receiver) -> None:
    """One that fails twice gets three attempts, then none; one that never answers is tried
    until the horizon, then given up, its attempts counted in the job's status."""
    flaky_url, _ = live_page(stack, "hook-flaky", "ff0000")
    silent_url, _ = live_page(stack, "hook-silent", "ff0000")
    flaky = receiver.answer("/flaky", 503, 500, 200)
    silent = receiver.answer("/silent", HANG)
    silent_job = stack.api(
        "POST", "/api/prewarm", json={"urls": [silent_url], "webhook_url": silent}
    ).json()["jobs"][0]
    # The command line's --version and --webhook, through the site helper's client.
    done = subprocess.run(
        ["ogshot", "prewarm", flaky_url, "--version", "f1", "--webhook", flaky, "--wait",
         "--server", stack.web, "--token", TOKEN],
        env=stack.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (flaky_call,) = receiver.wait_for("/flaky", 3)[-1:]
    flaky_job = json.loads(flaky_call.body)
    assert flaky_job["version"] == "f1"
    deadline = time.monotonic() + WEBHOOK_HORIZON + 30
    while not str(stack.wait_job(silent_job["id"])["webhook"]).startswith("given up"):
        assert time.monotonic() < deadline, stack.wait_job(silent_job["id"])
        time.sleep(0.3)
    attempts = len(receiver.to("/silent"))
    assert attempts >= 2
    assert stack.wait_job(silent_job["id"])["webhook"].endswith(f"({attempts} attempts)")  # type: ignore[union-attr]
    assert stack.wait_job(flaky_job["id"])["webhook"] == "delivered: HTTP 200 (3 attempts)"
    time.sleep(2)
    assert len(receiver.to("/flaky")) == 3
    assert len(receiver.to("/silent")) == attempts


def test_refused_webhooks_and_versions_queue_and_send_nothing(
    stack: Stack, receiver: Receiver
) -> None:
    """A webhook host off OGSHOT_WEBHOOK_HOSTS, or a bad v, is a 400 naming it: nothing is
    queued and nothing is sent."""
    url, path = live_page(stack, "refused-hook", "ff0000")
    off_list = f"http://localhost:{receiver.port}/hook"
    answer = stack.api("POST", "/api/prewarm", json={"urls": [url], "webhook_url": off_list})
    assert answer.status_code == 400
    assert off_list in answer.json()["error"]
    for bad in ({"urls": [url], "v": "x" * 65}, {"urls": [url], "v": "a/b"}):
        assert stack.api("POST", "/api/prewarm", json=bad).status_code == 400
    assert redis.Redis.from_url(stack.redis_url).llen(PREWARM_QUEUE) == 0
    for bad_version in ("x" * 65, "a%20b", "a%2Fb", ""):
        response = get(stack.image_url(url) + f"?v={bad_version}")
        assert response.status_code == 400
        assert response.text.startswith("v must")
    time.sleep(1)
    assert stack.pages.count(path) == 0
    assert receiver.calls == []


def test_signed_urls_with_and_without_a_version(stack: Stack) -> None:
    """The helper's signed URLs work with a version and without; the version is signed, so
    changing, adding or dropping it is a 403 that renders nothing."""
    url, path = live_page(stack, "signed-version", "ff0000")
    without = og_image_url(stack.web, url, signing_key=SIGNING_KEY)
    with_v = og_image_url(stack.web, url, signing_key=SIGNING_KEY, version="s1")
    assert get(without).headers["X-Ogshot-Cache"] == "miss"
    assert get(with_v).headers["X-Ogshot-Cache"] == "miss"  # a version new to the image
    assert get(with_v).headers["X-Ogshot-Cache"] == "hit"
    assert get(without).headers["X-Ogshot-Cache"] == "hit"
    assert stack.pages.count(path) == 2
    for bad in (with_v.replace("v=s1", "v=s2"), without + "&v=s1",
                with_v.replace("v=s1&", "")):  # fmt: skip
        response = get(bad)
        assert response.status_code == 403, bad
        assert "s=" in response.text
    assert stack.pages.count(path) == 2
