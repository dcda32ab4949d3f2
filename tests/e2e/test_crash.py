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
from urllib.parse import quote_plus

import pytest
import requests

from tests.helpers import PageServer, free_port, ogshot_env, serving, start, stop_process
from worker.reaper import browser_processes

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]


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
    crawler = threading.Thread(
        target=lambda: answers.append(
            requests.get(f"{web}/image/{quote_plus(slow)}.png", timeout=90)
        )
    )
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
    warm = requests.get(f"{web}/image/{quote_plus(pages.url('/page/' + name + '-warm'))}.png",
                        timeout=60)  # fmt: skip
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
    first = requests.get(f"{web}/image/{quote_plus(pages.url('/page/' + name + '-a'))}.png",
                         timeout=60)  # fmt: skip
    assert first.headers["X-Ogshot-Cache"] in ("miss", "hit")
    pool = pool_process(worker)
    pools.append(pool)
    old_browser = browser_processes(owner=pool)
    assert old_browser
    for pid in old_browser:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    after = requests.get(f"{web}/image/{quote_plus(pages.url('/page/' + name + '-b'))}.png",
                         timeout=90)  # fmt: skip
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
    requests.get(f"{web}/image/{quote_plus(pages.url('/page/' + name + '-warm'))}.png", timeout=60)
    pools.append(pool_process(worker))
    crawler, answers = crawl_while_loading(web, pages, name, delay="2")
    os.kill(worker.pid, signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    crawler.join()
    assert answers[0].headers["X-Ogshot-Cache"] == "miss"
    assert pages.count(f"/page/{name}") == 1
    assert browser_processes(owner=pools[-1]) == []
