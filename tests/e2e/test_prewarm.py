"""Pre-warm end to end: forced refresh, debounce, one render at a time, priorities, API, CLI.

What is tested here is the queue's and the API's, the same whatever draws the page or keeps
the image: two stacks (each engine once, each store once), for the suite's time."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import threading
import time

import pytest
import redis
import requests
from PIL import Image

from shared.jobs import PREWARM_QUEUE
from tests.e2e.conftest import TOKEN, Stack
from tests.helpers import close_to

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server, pytest.mark.two_stacks]
CYAN, RED, YELLOW = (0, 255, 255), (255, 0, 0), (255, 255, 0)


def centre(content: bytes) -> tuple[int, int, int]:
    """The colour at the middle of an image."""
    return Image.open(io.BytesIO(content)).convert("RGB").getpixel((600, 315))  # type: ignore[return-value]


def live_page(stack: Stack, name: str, colour: str, delay: str = "0") -> tuple[str, str]:
    """A page whose colour the test can change; returns its URL and its counted path."""
    name = f"{stack.name}-{name}"
    stack.pages.colours[name] = colour
    return stack.pages.url(f"/live/{name}?delay={delay}"), f"/live/{name}"


def until(condition: object, timeout: float = 30) -> None:
    """Wait until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)


def test_prewarm_serves_old_bytes_until_the_new_image_replaces_them(stack: Stack) -> None:
    """After a change, a pre-warm re-renders; until it is done the old image stays a hit."""
    url, path = live_page(stack, "change", "ff0000")
    old = requests.get(stack.image_url(url), timeout=60)
    assert centre(old.content) == RED
    stack.pages.colours[path.split("/")[2]] = "00ffff"
    answer = stack.api("POST", "/api/prewarm", json={"urls": [url]})
    assert answer.status_code == 202
    job = answer.json()["jobs"][0]
    assert job["status"] == "queued"
    assert job["image_url"] == stack.image_url(url)
    during = requests.get(stack.image_url(url), timeout=60)  # inside the 1 s debounce
    assert during.headers["X-Ogshot-Cache"] == "hit"
    assert during.content == old.content
    finished = stack.wait_job(job["id"])
    assert finished["status"] == "done"
    assert isinstance(finished["render_ms"], int)
    assert finished["readiness"] == "ready"
    after = requests.get(stack.image_url(url), timeout=60)
    assert after.headers["X-Ogshot-Cache"] == "hit"
    assert close_to(centre(after.content), CYAN)
    assert after.headers["ETag"] != old.headers["ETag"]
    assert stack.pages.count(path) == 2


def test_a_burst_of_prewarms_costs_one_render(stack: Stack) -> None:
    """Ten pre-warms of one URL within a second give one job and one extra page load."""
    url, path = live_page(stack, "burst", "ff0000")
    requests.get(stack.image_url(url), timeout=60)
    ids = set()
    for i in range(10):
        stack.pages.colours[path.split("/")[2]] = f"ff{i:02x}00"
        ids |= {
            j["id"] for j in stack.api("POST", "/api/prewarm", json={"urls": [url]}).json()["jobs"]
        }
        time.sleep(0.05)
    assert len(ids) == 1
    stack.wait_job(ids.pop())
    time.sleep(1.5)  # room for a second render, which must not come
    assert stack.pages.count(path) == 2
    latest = requests.get(stack.image_url(url), timeout=60)
    assert close_to(centre(latest.content), (255, 9, 0))  # the last state of the burst


def test_prewarm_during_a_render_renders_once_more_after_it(stack: Stack) -> None:
    """A pre-warm while its image renders leads to one more render after it, never two at once."""
    url, path = live_page(stack, "overlap", "ff0000", delay="1.5")
    first = stack.api("POST", "/api/prewarm", json={"urls": [url]}).json()["jobs"][0]
    until(lambda: stack.pages.count(path) == 1)  # the first render is loading the page
    stack.pages.colours[path.split("/")[2]] = "ffff00"
    second = stack.api("POST", "/api/prewarm", json={"urls": [url]}).json()["jobs"][0]
    assert second["id"] != first["id"]
    assert stack.wait_job(first["id"])["status"] == "done"
    assert stack.wait_job(second["id"])["status"] == "done"
    assert stack.pages.count(path) == 2
    assert stack.pages.max_inflight[path] == 1
    final = requests.get(stack.image_url(url), timeout=60)
    assert close_to(centre(final.content), YELLOW)


def test_batch_with_refused_urls(stack: Stack, canary: object) -> None:
    """Refused URLs are listed with reasons; the others are rendered."""
    good = [stack.page("batch-a"), stack.page("batch-b")]
    refused = ["https://evil.example/", "http://127.0.0.2/", "ftp://127.0.0.1/", "not a url"]
    answer = stack.api("POST", "/api/prewarm", json={"urls": good + refused, "format": "webp"})
    assert answer.status_code == 202
    body = answer.json()
    assert [r["url"] for r in body["rejected"]] == refused
    assert all(r["reason"] for r in body["rejected"])
    assert sorted(j["url"] for j in body["jobs"]) == sorted(good)
    for job in body["jobs"]:
        assert stack.wait_job(job["id"])["status"] == "done"
        image = requests.get(job["image_url"], timeout=60)
        assert image.headers["Content-Type"] == "image/webp"
        assert image.headers["X-Ogshot-Cache"] == "hit"


def test_auth_failures_queue_nothing(stack: Stack) -> None:
    """No token or a wrong one is a 401 and nothing is queued; an unknown job is a 404."""
    url = stack.page("auth")
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0000000000"},
        {"Authorization": TOKEN},
    ):
        answer = requests.post(
            stack.web + "/api/prewarm", json={"urls": [url]}, headers=headers, timeout=10
        )
        assert answer.status_code == 401
        assert answer.json()["error"]
    assert requests.get(stack.web + "/api/jobs/x", timeout=10).status_code == 401
    assert stack.api("GET", "/api/jobs/no-such-job").status_code == 404
    time.sleep(1.5)
    assert stack.pages.count(f"/page/{stack.name}-auth") == 0
    assert redis.Redis.from_url(stack.redis_url).llen(PREWARM_QUEUE) == 0


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"urls": []},
        {"urls": "x"},
        {"urls": [1]},
        {"urls": ["x"], "w": 5},
        {"urls": ["x"], "scale": True},
        {"urls": ["x"], "colour": "red"},
        {"urls": ["x"] * 1001},
    ],
)
def test_malformed_bodies_are_400(stack: Stack, body: object) -> None:
    """A body that is not a valid pre-warm request is a 400 with a reason."""
    answer = stack.api("POST", "/api/prewarm", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]


def test_stale_image_is_served_and_refreshed_once(stack: Stack) -> None:
    """Past the TTL the old image is served as stale and exactly one refresh renders it."""
    url, path = live_page(stack, "stale", "ff0000")
    first = requests.get(stack.image_url(url), timeout=60)  # rendered via the patient web
    time.sleep(3.5)  # the impatient web's TTL is 3 s
    stack.pages.colours[path.split("/")[2]] = "00ffff"
    stale = [
        requests.get(stack.image_url(url, web=stack.impatient_web), timeout=60) for _ in range(5)
    ]
    assert {r.headers["X-Ogshot-Cache"] for r in stale} == {"stale"}
    assert {r.content for r in stale} == {first.content}
    assert stale[0].headers["Cache-Control"] == "public, max-age=60"
    until(lambda: stack.pages.count(path) == 2)
    time.sleep(1)
    assert stack.pages.count(path) == 2
    fresh = requests.get(stack.image_url(url, web=stack.impatient_web), timeout=60)
    assert fresh.headers["X-Ogshot-Cache"] == "hit"
    assert close_to(centre(fresh.content), CYAN)


def test_a_large_prewarm_batch_does_not_delay_a_crawler(stack: Stack) -> None:
    """With many pre-warms queued, a crawler's miss is rendered next, within its wait."""
    batch = [stack.page(f"bulk-{i}", delay="0.3") for i in range(15)]
    assert stack.api("POST", "/api/prewarm", json={"urls": batch}).status_code == 202
    crawler = requests.get(stack.image_url(stack.page("crawler")), timeout=60)
    assert crawler.headers["X-Ogshot-Cache"] == "miss"
    loaded = sum(stack.pages.count(f"/page/{stack.name}-bulk-{i}") for i in range(15))
    assert loaded <= 3  # at most the pre-warms already under way


def test_cli_prewarm_with_a_sitemap_index(stack: Stack) -> None:
    """`ogshot prewarm --sitemap` reads an index of plain and gzipped sitemaps and waits."""
    pages = [stack.page(f"sitemap-{i}") for i in range(3)]

    def urlset(urls: list[str]) -> bytes:
        items = "".join(f"<url><loc>{u.replace('&', '&amp;')}</loc></url>" for u in urls)
        return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                f'sitemap/0.9">{items}</urlset>').encode()  # fmt: skip

    files = stack.pages.files
    files[f"{stack.name}-a.xml.gz"] = gzip.compress(urlset(pages[:2]))
    files[f"{stack.name}-b.xml"] = urlset([*pages[2:], "http://127.0.0.2/refused"])
    locs = "".join(
        f"<sitemap><loc>{stack.pages.url('/files/' + name)}</loc></sitemap>"
        for name in (f"{stack.name}-a.xml.gz", f"{stack.name}-b.xml")
    )
    files[f"{stack.name}-index.xml"] = (
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</sitemapindex>'
    ).encode()
    env = {**os.environ, "OGSHOT_API_TOKEN": TOKEN}
    argv = ["ogshot", "prewarm", "--server", stack.web, "--wait", "--batch-size", "2",
            "--sitemap", stack.pages.url(f"/files/{stack.name}-index.xml")]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr  # one URL was refused
    assert "3 done, 0 failed, 1 rejected, 0 pending" in done.stdout
    assert "rejected http://127.0.0.2/refused" in done.stdout
    for page in pages:
        assert requests.get(stack.image_url(page), timeout=60).headers["X-Ogshot-Cache"] == "hit"


def test_cli_prewarm_without_a_token_stops(stack: Stack) -> None:
    """Without a token the CLI says so and sends nothing."""
    env = {k: v for k, v in os.environ.items() if k != "OGSHOT_API_TOKEN"}
    done = subprocess.run(
        ["ogshot", "prewarm", "--server", stack.web, stack.page("cli-no-token")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "OGSHOT_API_TOKEN" in done.stderr


def test_concurrent_prewarm_calls_make_one_job(stack: Stack) -> None:
    """Pre-warm calls racing from several clients gather into one job."""
    url = stack.page("race")
    ids: list[str] = []

    def call() -> None:
        ids.extend(
            j["id"] for j in stack.api("POST", "/api/prewarm", json={"urls": [url]}).json()["jobs"]
        )

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    stack.wait_job(ids[0])
    assert stack.pages.count(f"/page/{stack.name}-race") == 1


def test_a_job_delivered_too_often_is_abandoned(stack: Stack) -> None:
    """A job that keeps coming back (its workers died each time) is given up, with a reason,
    instead of killing workers for ever."""
    busy, busy_path = live_page(stack, "poison-busy", "ff0000", delay="2")
    crawler = threading.Thread(target=lambda: requests.get(stack.image_url(busy), timeout=60))
    crawler.start()
    until(lambda: stack.pages.count(busy_path) == 1)  # the one worker process is busy
    url = stack.page("poison")
    job = stack.api("POST", "/api/prewarm", json={"urls": [url]}).json()["jobs"][0]
    # As if it had been delivered 99 times already: it waits in the queue meanwhile.
    redis.Redis.from_url(stack.redis_url).set(f"ogshot:deliveries:{job['id']}", 99)
    crawler.join()
    finished = stack.wait_job(job["id"])
    assert finished["status"] == "failed"
    assert "given up" in str(finished["error"])
    assert stack.pages.count(f"/page/{stack.name}-poison") == 0
