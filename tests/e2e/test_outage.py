"""Redis and storage outages against the real stack.

Redis down: hits keep coming, misses get the fallback, pre-warm answers 503. Storage down:
the fallback, never a 500, and renders retried with backoff. Both recover without a restart.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from shared.storage.s3 import make_s3_client
from tests.helpers import (
    PageServer,
    free_port,
    image,
    ogshot_env,
    redis_argv,
    require,
    serving,
    start,
    stop_process,
    until_rendered,
    wait_for_port,
    wait_job,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]
TOKEN = "outage-token-0123456789abcdef"


@pytest.fixture
def outage_stack(tmp_path: Path) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """Web and a Chromium worker on a Redis of their own: the web URL, Redis port and process."""
    redis_port, web_port = free_port(), free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER="chromium",
        OGSHOT_MISS_WAIT="20",
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_API_TOKENS=TOKEN,
    )
    with serving(redis_argv(redis_port), redis_port) as redis_proc:
        worker = start(["ogshot", "worker"], env, tmp_path / "worker.log")
        try:
            argv = ["ogshot", "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "1"]
            with serving(argv, web_port, env, tmp_path / "web.log"):
                yield f"http://127.0.0.1:{web_port}", redis_port, redis_proc
        finally:
            stop_process(worker)


def test_redis_outage_and_recovery(
    outage_stack: tuple[str, int, subprocess.Popen], pages: PageServer
) -> None:
    """During the outage: hits 200, misses the fallback, pre-warm 503, /readyz names redis."""
    web, redis_port, redis_proc = outage_stack
    cached = pages.url("/page/outage-cached")
    assert until_rendered(web, cached).headers["X-Ogshot-Cache"] in ("miss", "hit")
    headers = {"Authorization": f"Bearer {TOKEN}"}

    stop_process(redis_proc)
    hit = image(web, cached)
    assert hit.status_code == 200
    assert hit.headers["X-Ogshot-Cache"] == "hit"
    miss = image(web, pages.url("/page/outage-new"))
    assert miss.status_code == 200
    assert miss.headers["X-Ogshot-Cache"] == "fallback"
    prewarm = requests.post(f"{web}/api/prewarm", json={"urls": [cached]}, headers=headers,
                            timeout=30)  # fmt: skip
    assert prewarm.status_code == 503
    assert "queue unavailable" in prewarm.json()["error"]
    ready = requests.get(f"{web}/readyz", timeout=30)
    assert ready.status_code == 503
    assert "redis" in ready.json()["failing"]

    with serving(redis_argv(redis_port), redis_port):  # Redis is back, same address
        recovered = until_rendered(web, pages.url("/page/outage-after"))
        assert recovered.headers["X-Ogshot-Cache"] in ("miss", "hit")
        again = requests.post(f"{web}/api/prewarm", json={"urls": [cached]}, headers=headers,
                              timeout=30)  # fmt: skip
        assert again.status_code == 202


@pytest.fixture
def s3_outage_stack(tmp_path: Path, redis_base: str) -> Iterator[tuple[str, int, Path, list]]:
    """Web and a Chromium worker storing in an S3 server of their own (moto)."""
    s3_port, web_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{s3_port}"
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"{redis_base}/12",
        OGSHOT_STORAGE_URL="s3://outage/images",
        OGSHOT_S3_ENDPOINT_URL=endpoint,
        OGSHOT_BROWSER="chromium",
        # The longest wait there is: each retry of the failed upload renders the 3 s page
        # again after its backoff, and moto takes seconds to come back.
        OGSHOT_MISS_WAIT="60",
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_API_TOKENS=TOKEN,
        OGSHOT_PREWARM_DEBOUNCE="0",
    )
    moto_argv = [require("moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]
    servers = [start(moto_argv)]
    try:
        wait_for_port("127.0.0.1", s3_port, proc=servers[0])
        worker = start(["ogshot", "worker"], env, tmp_path / "worker.log")
        try:
            argv = ["ogshot", "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "1"]
            with serving(argv, web_port, env, tmp_path / "web.log"):
                yield f"http://127.0.0.1:{web_port}", s3_port, tmp_path / "worker.log", servers
        finally:
            stop_process(worker)
    finally:
        for server in servers:
            stop_process(server)


def test_storage_outage_and_recovery(
    s3_outage_stack: tuple[str, int, Path, list], pages: PageServer
) -> None:
    """While S3 is down an image the web holds in memory is still served and anything else
    gets the fallback (never a 500); a render whose upload failed is retried with backoff;
    once S3 is back it succeeds, without a restart."""
    web, s3_port, worker_log, servers = s3_outage_stack
    cached = pages.url("/page/s3-outage-cached")
    assert until_rendered(web, cached).headers["X-Ogshot-Cache"] in ("miss", "hit")
    before = image(web, cached)

    slow = pages.url("/page/s3-outage-slow?delay=3")
    waiting: list[requests.Response] = []
    crawler = threading.Thread(target=lambda: waiting.append(image(web, slow)))
    crawler.start()
    until_loaded = time.monotonic() + 30
    while not pages.count("/page/s3-outage-slow") and time.monotonic() < until_loaded:
        time.sleep(0.1)
    stop_process(servers[0])  # S3 goes away while the page renders
    held = image(web, cached)  # in the web's memory, trusted while it hears Redis
    assert (held.status_code, held.headers["X-Ogshot-Cache"]) == (200, "hit")
    assert held.content == before.content
    down = image(web, pages.url("/page/s3-outage-never-rendered"))
    assert down.status_code == 200
    assert down.headers["X-Ogshot-Cache"] == "fallback"
    assert requests.get(f"{web}/readyz", timeout=30).json()["failing"].get("storage")
    failed_upload = time.monotonic() + 30
    while "render try failed" not in worker_log.read_text() and time.monotonic() < failed_upload:
        time.sleep(0.1)  # S3 stays down until the render's upload has failed
    # moto keeps nothing across a restart: the bucket comes back empty, made again here.
    servers.append(start([require("moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]))
    wait_for_port("127.0.0.1", s3_port, proc=servers[-1])
    make_s3_client(f"http://127.0.0.1:{s3_port}").create_bucket(Bucket="outage")
    crawler.join()
    # The failed upload was retried with backoff while the crawler waited, and succeeded.
    assert waiting[0].status_code == 200
    assert waiting[0].headers["X-Ogshot-Cache"] == "miss", waiting[0].headers.get("X-Ogshot-Reason")
    assert image(web, slow).headers["X-Ogshot-Cache"] == "hit"
    assert "Retry in" in worker_log.read_text()


def test_prewarms_during_a_storage_outage_all_end_current(
    s3_outage_stack: tuple[str, int, Path, list], pages: PageServer
) -> None:
    """A pre-warm batch accepted while S3 is down: each upload fails and is retried with
    backoff; once S3 is back every job ends done and every URL has a current image."""
    web, s3_port, worker_log, servers = s3_outage_stack
    assert until_rendered(web, pages.url("/page/s3-batch-warm")).status_code == 200
    stop_process(servers[0])
    urls = [pages.url(f"/page/s3-batch-{i}") for i in range(3)]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = requests.post(f"{web}/api/prewarm", json={"urls": urls}, headers=headers,
                           timeout=30)  # fmt: skip
    assert answer.status_code == 202  # the queue is up: S3 is not needed to accept them
    failed_upload = time.monotonic() + 60
    while "render try failed" not in worker_log.read_text():
        assert time.monotonic() < failed_upload, "no upload was tried while S3 was down"
        time.sleep(0.2)
    servers.append(start([require("moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)]))
    wait_for_port("127.0.0.1", s3_port, proc=servers[-1])
    make_s3_client(f"http://127.0.0.1:{s3_port}").create_bucket(Bucket="outage")

    for job in answer.json()["jobs"]:
        # Five retries, backoff up to 30 s each.
        record = wait_job(web, TOKEN, job["id"], timeout=150)
        assert record["status"] == "done", record
    for url in urls:
        assert image(web, url).headers["X-Ogshot-Cache"] == "hit"


def test_queued_prewarms_survive_a_redis_restart(tmp_path: Path, pages: PageServer) -> None:
    """Pre-warms accepted while no worker runs survive a Redis restart (append-only file): once
    a worker starts, every URL ends with a current image."""
    redis_port, web_port = free_port(), free_port()
    data = tmp_path / "redis"
    data.mkdir()
    aof_argv = [*redis_argv(redis_port)[:-2], "--appendonly", "yes", "--dir", str(data)]
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER="chromium",
        OGSHOT_API_TOKENS=TOKEN,
        OGSHOT_PREWARM_DEBOUNCE="0",
    )
    urls = [pages.url(f"/page/survivor-{i}") for i in range(5)]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    web_argv = ["ogshot", "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "1"]
    web = f"http://127.0.0.1:{web_port}"
    with serving(web_argv, web_port, env, tmp_path / "web.log"):
        with serving(aof_argv, redis_port):
            answer = requests.post(f"{web}/api/prewarm", json={"urls": urls}, headers=headers,
                                   timeout=30)  # fmt: skip
            assert answer.status_code == 202
            jobs = [job["id"] for job in answer.json()["jobs"]]
        # Redis stopped (its queue written to the append-only file) and starts again.
        with serving(aof_argv, redis_port):
            worker = start(["ogshot", "worker"], env, tmp_path / "worker.log")
            try:
                for job_id in jobs:
                    job = wait_job(web, TOKEN, job_id)
                    assert job["status"] == "done", job
                for url in urls:
                    assert image(web, url).headers["X-Ogshot-Cache"] == "hit"
            finally:
                stop_process(worker)
