"""OGSHOT_RENDERS_PER_BROWSER above 1 (issue 27): the worker is one process whose threads
share one browser, each render in a context of its own. A crawler's batch of misses for
eight gallery pages at once, with the browser recycled every three renders: every image
is delivered, each the same pixels as its reference from the engines before. A browser
killed, a worker stopped or a worker killed with renders in flight: each is delivered."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from PIL import Image

from shared.config import load_config
from shared.jobs import celery_settings
from tests.helpers import (
    BINARIES,
    PageServer,
    free_port,
    image,
    ogshot_env,
    require,
    serving,
    start,
    stop_process,
)
from tests.worker.gallery import NOISY_SHARE, differing, exhibits, reference
from worker.reaper import alive, browser_processes

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]
# Viewport pages without render options that the quality gate keeps (the placeholder is
# refused, as it should be; fragments are dropped from page URLs).
NAMES = ["spa", "lazy", "fade", "font", "consent", "tall", "late-fetch", "chart"]


ENGINES = ["firefox", "chromium"]
IN_FLIGHT = 3  # renders at once in the tests of a crash or a stop


@dataclass
class ThreadsWorker:
    """A worker of renders at once and a web in front of it."""

    web: str
    worker: subprocess.Popen
    env: dict[str, str]
    log: Path


@contextlib.contextmanager
def threads_worker(
    engine: str, tmp_path: Path, redis_base: str, **settings: str
) -> Iterator[ThreadsWorker]:
    """Web and a worker of ``engine`` with OGSHOT_RENDERS_PER_BROWSER 4 (``settings`` added),
    on a Redis database of its own, emptied first."""
    for binary in BINARIES[engine]:
        require(binary)
    port = free_port()
    redis_url = f"{redis_base}/12"
    redis.Redis.from_url(redis_url).flushdb()
    # The browsers' files in a directory of the test's (a short path: Chromium's socket),
    # removed after it even where a browser stopped by the test's signal left some.
    browsers_tmp = tempfile.mkdtemp(prefix="ogshot-e2e-")
    env = ogshot_env(
        TMPDIR=browsers_tmp,
        OGSHOT_REDIS_URL=redis_url,
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER=engine,
        OGSHOT_RENDERS_PER_BROWSER="4",
        OGSHOT_MISS_WAIT="60",
        OGSHOT_HOST_RENDERS_PER_MINUTE="0",
        OGSHOT_CLIENT_MISSES_PER_MINUTE="0",
        **settings,
    )
    log = tmp_path / "worker.log"
    at = ThreadsWorker(f"http://127.0.0.1:{port}", start(["ogshot", "worker"], env, log), env, log)
    try:
        argv = ["ogshot", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
        with serving(argv, port, env, tmp_path / "web.log"):
            yield at
    finally:
        stop_process(at.worker)
        # The browsers end a moment after the worker (Firefox writes its prefs as it goes).
        for _ in range(100):
            if not browser_processes(owner=at.worker.pid):
                break
            time.sleep(0.2)
        shutil.rmtree(browsers_tmp, ignore_errors=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_batch_of_misses_renders_at_once_as_before(
    tmp_path: Path, redis_base: str, pages: PageServer, engine: str
) -> None:
    for binary in BINARIES[engine]:
        require(binary)
    chosen = [exhibit for exhibit in exhibits() if exhibit.name in NAMES]
    for exhibit in chosen:
        pages.files.update(exhibit.files)
    answers: dict[str, requests.Response] = {}
    # Drained and restarted during the batch: renders in flight finish first.
    with threads_worker(engine, tmp_path, redis_base, OGSHOT_BROWSER_MAX_RENDERS="3") as at:

        def fetch(name: str, path: str) -> None:
            answers[name] = image(at.web, pages.url(f"/files/{path}"), timeout=120)

        threads = [threading.Thread(target=fetch, args=(exhibit.name, exhibit.path))
                   for exhibit in chosen]  # fmt: skip
        browsers = Browsers(at.worker.pid)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(150)
        browsers.stop()
    said = at.log.read_text(errors="replace")
    assert "concurrency: 4 (thread)" in said, said[:3000]  # Celery's banner
    for exhibit in chosen:
        answer = answers[exhibit.name]
        assert answer.status_code == 200
        assert answer.headers["X-Ogshot-Cache"] == "miss", f"{exhibit.name}: {said[-3000:]}"
        picture = Image.open(io.BytesIO(answer.content)).convert("RGB")
        expected = Image.open(reference(engine, exhibit.name)).convert("RGB")
        assert picture.size == expected.size
        off = differing(picture, expected)
        assert off <= NOISY_SHARE * picture.width * picture.height, f"{exhibit.name}: {off}"
    assert "restarting" in said, said[-3000:]  # max_renders drained at least once
    # One browser for all the threads (once, each first job built a browser of its own).
    assert browsers.most == 1, browsers.seen


class Browsers:
    """Watches how many browsers (or their drivers) a worker process runs at once."""

    def __init__(self, worker: int) -> None:
        self._worker = worker
        self.most = 0
        self.seen: list[list[str]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            running = _launched_by(self._worker)
            if len(running) > self.most:
                self.most, self.seen = len(running), running

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _launched_by(parent: int) -> list[str]:
    """The command names of ``parent``'s children that are browsers or drivers."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == parent and name in ("chromedriver", "firefox-esr"):
            found.append(name)
    return found


def crawl_at_once(
    web: str, pages: PageServer, name: str, delay: str
) -> tuple[list[threading.Thread], dict[int, requests.Response]]:
    """Request the images of IN_FLIGHT slow pages at once; return once each is loading."""
    answers: dict[int, requests.Response] = {}

    def crawl(index: int) -> None:
        answers[index] = image(web, pages.url(f"/page/{name}-{index}?delay={delay}"), timeout=120)

    crawlers = [threading.Thread(target=crawl, args=(index,)) for index in range(IN_FLIGHT)]
    for crawler in crawlers:
        crawler.start()
    deadline = time.monotonic() + 60
    while not all(pages.count(f"/page/{name}-{index}") for index in range(IN_FLIGHT)):
        assert time.monotonic() < deadline, "the renders did not all start"
        time.sleep(0.05)
    return crawlers, answers


def warmed(at: ThreadsWorker, pages: PageServer, name: str) -> list[int]:
    """The worker's browser processes, once it has rendered a page."""
    answer = image(at.web, pages.url(f"/page/{name}-warm"), timeout=120)
    assert answer.headers["X-Ogshot-Cache"] in ("miss", "hit")
    running = browser_processes(owner=at.worker.pid)
    assert running
    return running


@pytest.mark.parametrize("engine", ENGINES)
def test_a_killed_browser_fails_its_renders_in_flight_and_each_is_delivered(
    tmp_path: Path, redis_base: str, pages: PageServer, engine: str
) -> None:
    """SIGKILL of the shared browser with renders in flight: those renders fail with it, are
    retried on a new browser in the same worker process, and every crawler gets its image."""
    name = f"at-once-kill-{engine}-{time.monotonic_ns()}"
    with threads_worker(engine, tmp_path, redis_base) as at:
        old = warmed(at, pages, name)
        crawlers, answers = crawl_at_once(at.web, pages, name, delay="3")
        for pid in old:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for crawler in crawlers:
            crawler.join(150)
        assert at.worker.poll() is None  # the worker process lives on
        fresh = browser_processes(owner=at.worker.pid)
    said = at.log.read_text(errors="replace")
    assert [answers[index].headers["X-Ogshot-Cache"] for index in range(IN_FLIGHT)] == [
        "miss"
    ] * IN_FLIGHT, said[-3000:]
    # Each loaded twice: by the render the kill failed and by its retry.
    assert [pages.count(f"/page/{name}-{index}") for index in range(IN_FLIGHT)] == [2] * IN_FLIGHT
    assert fresh
    assert not set(fresh) & set(old)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_stopped_worker_finishes_its_renders_in_flight(
    tmp_path: Path, redis_base: str, pages: PageServer, engine: str
) -> None:
    """SIGTERM with renders in flight: each finishes and is delivered, then the worker exits
    with its browser, well within the hard time limit."""
    name = f"at-once-stop-{engine}-{time.monotonic_ns()}"
    with threads_worker(engine, tmp_path, redis_base) as at:
        warmed(at, pages, name)
        crawlers, answers = crawl_at_once(at.web, pages, name, delay="2")
        os.kill(at.worker.pid, signal.SIGTERM)
        assert at.worker.wait(timeout=60) == 0
        for crawler in crawlers:
            crawler.join(60)
        assert browser_processes(owner=at.worker.pid) == []
    assert [answers[index].headers["X-Ogshot-Cache"] for index in range(IN_FLIGHT)] == [
        "miss"
    ] * IN_FLIGHT
    assert [pages.count(f"/page/{name}-{index}") for index in range(IN_FLIGHT)] == [1] * IN_FLIGHT


# One engine (as test_crash.py's): the delivery again and the reaping do not depend on it.
@pytest.mark.parametrize("engine", ["chromium"])
def test_a_killed_worker_process_has_its_renders_in_flight_delivered_again(
    tmp_path: Path, redis_base: str, pages: PageServer, engine: str
) -> None:
    """SIGKILL of the worker process (with the threads pool it is the one that renders) with
    renders in flight: its jobs, never acknowledged, go to the next worker, which reaps the
    orphaned browser and renders each once more. (As in test_crash.py, the deliveries' time
    is moved back by Redis's visibility timeout rather than waited out.)"""
    name = f"at-once-main-{engine}-{time.monotonic_ns()}"
    with threads_worker(engine, tmp_path, redis_base) as at:
        old = warmed(at, pages, name)
        crawlers, answers = crawl_at_once(at.web, pages, name, delay="3")
        os.kill(at.worker.pid, signal.SIGKILL)
        at.worker.wait(timeout=10)
        client = redis.Redis.from_url(at.env["OGSHOT_REDIS_URL"])
        deadline = time.monotonic() + 10
        while len(delivered := client.zrange("unacked_index", 0, -1, withscores=True)) < IN_FLIGHT:
            assert time.monotonic() < deadline, delivered
            time.sleep(0.1)
        visibility = celery_settings(load_config(at.env))["broker_transport_options"][
            "visibility_timeout"]  # fmt: skip
        client.zadd("unacked_index", {tag: when - visibility - 1 for tag, when in delivered})
        second = start(["ogshot", "worker"], at.env, tmp_path / "second.log")
        try:
            for crawler in crawlers:
                crawler.join(150)
            reaped = [pid for pid in old if alive(pid)]
        finally:
            stop_process(second)
    said = (tmp_path / "second.log").read_text(errors="replace")
    assert [answers[index].headers["X-Ogshot-Cache"] for index in range(IN_FLIGHT)] == [
        "miss"
    ] * IN_FLIGHT, said[-3000:]
    assert [pages.count(f"/page/{name}-{index}") for index in range(IN_FLIGHT)] == [2] * IN_FLIGHT
    assert reaped == []  # the second worker killed the first one's browser
