"""A worker process killed mid-render: the job comes back and completes once, and no browser
is left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from shared.config import load_config
from shared.jobs import celery_settings
from tests.helpers import (
    PageServer,
    free_port,
    image,
    ogshot_env,
    serving,
    start,
    stop_process,
    wait_job,
)
from worker.reaper import alive, browser_processes

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]
TOKEN = "crash-token-0123456789abcdef"


@pytest.fixture(params=["firefox", "chromium"])
def crash_stack(
    request: pytest.FixtureRequest, tmp_path: Path, redis_base: str
) -> Iterator[tuple[str, subprocess.Popen, list[int]]]:
    """Web and a one-process worker: the web URL, the worker's main process, and a list the
    test fills with the pool processes it saw (their browsers must all be gone at the end)."""
    web_port = free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"{redis_base}/13",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER=request.param,
        OGSHOT_MISS_WAIT="30",
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_API_TOKENS=TOKEN,
        OGSHOT_PREWARM_DEBOUNCE="0",
    )
    worker = start(["ogshot", "worker"], env, tmp_path / "worker.log")
    pools: list[int] = []
    try:
        argv = ["ogshot", "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "1"]
        with serving(argv, web_port, env, tmp_path / "web.log"):
            yield f"http://127.0.0.1:{web_port}", worker, pools
    finally:
        stop_process(worker)
    for pool in pools:  # stopping the worker stopped its browsers
        assert browser_processes(owner=pool) == []


def pool_process(worker: subprocess.Popen) -> int:
    """The pid of the Celery pool process (the one that renders)."""
    children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True,
                              check=False).stdout.split()  # fmt: skip
    pool = [int(pid) for pid in children if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(pool) == 1, children
    return pool[0]


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def nice_of(pid: int) -> int:
    """The nice value of a process."""
    return int(_stat(pid)[16])


def parent_of(pid: int) -> int:
    """The parent's pid."""
    return int(_stat(pid)[1])


def crawl_while_loading(
    web: str, pages: PageServer, name: str, delay: str
) -> tuple[threading.Thread, list[requests.Response]]:
    """Request the image of a slow page in the background; return once the page is loading."""
    slow = pages.url(f"/page/{name}?delay={delay}")
    answers: list[requests.Response] = []
    crawler = threading.Thread(target=lambda: answers.append(image(web, slow, timeout=90)))
    crawler.start()
    deadline = time.monotonic() + 30
    while not pages.count(f"/page/{name}") and time.monotonic() < deadline:
        time.sleep(0.05)
    return crawler, answers


def test_killed_worker_process_job_completes_once(
    crash_stack: tuple[str, subprocess.Popen, list[int]], pages: PageServer
) -> None:
    """SIGKILL of the rendering process: the job is delivered again and the crawler still
    gets the image; the dead process's browser is killed by its successor."""
    web, worker, pools = crash_stack
    name = f"crash-{time.monotonic_ns()}"
    warm = image(web, pages.url(f"/page/{name}-warm"))
    assert warm.headers["X-Ogshot-Cache"] in ("miss", "hit")
    victim = pool_process(worker)
    pools.append(victim)
    assert browser_processes(owner=victim)
    # OGSHOT_WORKER_NICE (10) reaches the pool process and the browser it starts: hits come
    # first. (Chromium run as root re-prioritises its own helpers, hence only direct children.)
    wanted = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    started = [pid for pid in browser_processes(owner=victim) if parent_of(pid) == victim]
    assert started
    assert {nice_of(pid) for pid in [victim, *started]} == {wanted}

    crawler, answers = crawl_while_loading(web, pages, name, delay="3")
    os.kill(victim, signal.SIGKILL)
    crawler.join()

    assert answers[0].headers["X-Ogshot-Cache"] == "miss"
    # Loaded twice: by the killed render and by the one after it. (The page server may still
    # be sleeping on the dead browser's request when the second arrives, so overlap at the
    # server proves nothing; the single-flight lock keeps the renders themselves apart.)
    assert pages.count(f"/page/{name}") == 2
    assert browser_processes(owner=victim) == []  # the new pool process reaped them
    pools.append(pool_process(worker))


def test_killed_browser_is_replaced(
    crash_stack: tuple[str, subprocess.Popen, list[int]], pages: PageServer
) -> None:
    """A browser killed between jobs is replaced: the next render retries with a fresh one and
    the crawler gets its image; the worker process itself lives on."""
    web, worker, pools = crash_stack
    name = f"browser-{time.monotonic_ns()}"
    first = image(web, pages.url(f"/page/{name}-a"))
    assert first.headers["X-Ogshot-Cache"] in ("miss", "hit")
    pool = pool_process(worker)
    pools.append(pool)
    old_browser = browser_processes(owner=pool)
    assert old_browser
    for pid in old_browser:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    after = image(web, pages.url(f"/page/{name}-b"), timeout=90)
    assert after.headers["X-Ogshot-Cache"] == "miss"
    assert pool_process(worker) == pool
    fresh = browser_processes(owner=pool)
    assert fresh
    assert not set(fresh) & set(old_browser)


def test_stopped_worker_finishes_its_job(
    crash_stack: tuple[str, subprocess.Popen, list[int]], pages: PageServer
) -> None:
    """SIGTERM while rendering: the worker finishes the job, then exits with its browser."""
    web, worker, pools = crash_stack
    name = f"stop-{time.monotonic_ns()}"
    image(web, pages.url(f"/page/{name}-warm"))
    pools.append(pool_process(worker))
    crawler, answers = crawl_while_loading(web, pages, name, delay="2")
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    crawler.join()
    assert answers[0].headers["X-Ogshot-Cache"] == "miss"
    assert pages.count(f"/page/{name}") == 1
    assert browser_processes(owner=pools[-1]) == []


@pytest.mark.parametrize("victim", ["pool process", "browser"])
def test_prewarm_batch_survives_a_kill(
    crash_stack: tuple[str, subprocess.Popen, list[int]], pages: PageServer, victim: str
) -> None:
    """SIGKILL of the rendering process, or of its browser, in the middle of a pre-warm batch:
    nothing is lost, every job ends done and every URL with a current image."""
    web, worker, pools = crash_stack
    name = f"batch-{time.monotonic_ns()}"
    urls = [pages.url(f"/page/{name}-{i}?delay=1") for i in range(4)]
    answer = requests.post(f"{web}/api/prewarm", json={"urls": urls}, timeout=30,
                           headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert answer.status_code == 202
    deadline = time.monotonic() + 60
    while not any(pages.count(f"/page/{name}-{i}") for i in range(4)):
        assert time.monotonic() < deadline, "no render of the batch started"
        time.sleep(0.05)
    pool = pool_process(worker)  # it is loading one of the batch's pages right now
    pools.append(pool)
    for pid in [pool] if victim == "pool process" else browser_processes(owner=pool):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    deadline = time.monotonic() + 120  # for the whole batch
    records = [wait_job(web, TOKEN, job["id"], timeout=max(0.0, deadline - time.monotonic()))
               for job in answer.json()["jobs"]]  # fmt: skip
    assert [record["status"] for record in records] == ["done"] * 4, records
    for url in urls:
        response = image(web, url, timeout=30)
        assert response.headers["X-Ogshot-Cache"] == "hit"
    if victim == "pool process":
        assert browser_processes(owner=pool) == []  # its successor reaped them
    pools.append(pool_process(worker))


def test_killed_main_worker_process_job_is_delivered_again(
    tmp_path: Path, redis_base: str, pages: PageServer
) -> None:
    """SIGKILL of the worker's main process mid-render (its pool process dies with it): the
    job, never acknowledged, is delivered again to the next worker, which reaps the orphaned
    browser, takes over the stale lock and renders the image once more.

    Redis hands an unacknowledged job out again once its visibility timeout (two minutes by
    default) has passed; rather than wait, the test moves the delivery's time back by that
    much in kombu's own index, and the new worker's 5-second sweep does the rest."""
    web_port = free_port()
    redis_url = f"{redis_base}/14"
    env = ogshot_env(OGSHOT_REDIS_URL=redis_url, OGSHOT_STORAGE_URL=str(tmp_path / "images"),
                     OGSHOT_BROWSER="chromium", OGSHOT_MISS_WAIT="2",
                     OGSHOT_WORKER_CONCURRENCY="1")  # fmt: skip
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    workers = [start(["ogshot", "worker"], env, tmp_path / "first.log")]
    web = f"http://127.0.0.1:{web_port}"
    argv = ["ogshot", "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "1"]
    try:
        with serving(argv, web_port, env, tmp_path / "web.log"):
            name = f"main-{time.monotonic_ns()}"
            warm = pages.url(f"/page/{name}-warm")
            deadline = time.monotonic() + 90
            # A hit counts too: a cold first render may end just after the 2 s miss wait.
            while image(web, warm, timeout=30).headers["X-Ogshot-Cache"] not in ("miss", "hit"):
                assert time.monotonic() < deadline, "the first worker rendered nothing"
                time.sleep(0.2)
            pool = pool_process(workers[0])
            assert browser_processes(owner=pool)

            crawler, answers = crawl_while_loading(web, pages, name, delay="3")
            os.kill(workers[0].pid, signal.SIGKILL)
            crawler.join()
            assert answers[0].headers["X-Ogshot-Cache"] == "fallback"  # waited 2 s, no more
            gone = time.monotonic() + 10  # the pool process dies with its parent (pdeathsig)
            while alive(pool):
                assert time.monotonic() < gone, "the pool process outlived its main process"
                time.sleep(0.1)

            [(tag, delivered)] = client.zrange("unacked_index", 0, -1, withscores=True)
            visibility = celery_settings(load_config(env))["broker_transport_options"][
                "visibility_timeout"]  # fmt: skip
            client.zadd("unacked_index", {tag: delivered - visibility - 1})

            workers.append(start(["ogshot", "worker"], env, tmp_path / "second.log"))
            slow = pages.url(f"/page/{name}?delay=3")
            deadline = time.monotonic() + 90
            while (answer := image(web, slow, timeout=30)).headers["X-Ogshot-Cache"] != "hit":
                assert time.monotonic() < deadline, "the job never came back"
                time.sleep(0.5)
            assert answer.status_code == 200
            # Loaded by the killed render and by the delivery after it: once each.
            assert pages.count(f"/page/{name}") == 2
            assert browser_processes(owner=pool) == []  # the second worker reaped them
    finally:
        for worker in workers:
            stop_process(worker)
