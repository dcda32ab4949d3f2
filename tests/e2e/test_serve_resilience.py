"""`ogshot serve` outlives what used to stop it: a dead child, and Redis going away mid-render.

A broker blip once ended the Celery worker (a kombu bug while restoring an unacknowledged
job), and `ogshot serve`, seeing one child gone, stopped the web tier too. Now a child that
dies is started again after a pause, and each outage costs at most the renders in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.helpers import (
    PageServer,
    free_port,
    image,
    ogshot_env,
    redis_argv,
    require,
    start,
    stop_process,
    until_rendered,
    wait_for_port,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]


class RedisOnPort:
    """A redis-server on a fixed port that the test stops and starts again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it and wait until it listens."""
        self.proc = start(redis_argv(self.port))
        wait_for_port("127.0.0.1", self.port, proc=self.proc)

    def stop(self) -> None:
        """Stop it (its data goes with it, as after a crash without persistence)."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


@dataclass
class Served:
    """A running `ogshot serve`: its URL, process, log, and the Redis it uses."""

    web: str
    proc: subprocess.Popen
    log: Path
    redis: RedisOnPort

    def children(self) -> dict[str, int]:
        """The pids of its worker and web tier, by name."""
        found = {}
        listed = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        for pid in listed.split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            found["worker" if b"celery" in cmdline else "web"] = int(pid)
        return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`ogshot serve` (Firefox, the default) on a Redis that the test may stop and start."""
    require("firefox-esr")
    redis, port = RedisOnPort(free_port()), free_port()
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_WORKER_CONCURRENCY="1",
        OGSHOT_MISS_WAIT="20",
    )
    log = tmp_path / "serve.log"
    redis.start()
    try:
        proc = start([require("ogshot"), "serve", "--port", str(port)], env, log)
        try:
            wait_for_port("127.0.0.1", port, timeout=60, proc=proc)
            yield Served(f"http://127.0.0.1:{port}", proc, log, redis)
        finally:
            stop_process(proc)
    finally:
        redis.stop()


RENDERED = ("miss", "hit")


def _until_answering(web: str, timeout: float = 60) -> None:
    """Wait for /healthz: a web master killed outright leaves its worker process holding the
    socket for a moment (it resets connections, then notices and exits)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{web}/healthz", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_dead_children_are_started_again(served: Served, pages: PageServer) -> None:
    """kill -9 of the worker, then of the web tier: each comes back, and pages render."""
    before = until_rendered(served.web, pages.url("/page/sv-before"), 120, 200)
    assert before.headers["X-Ogshot-Cache"] in RENDERED
    for name in ("worker", "web"):
        pid = served.children()[name]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while served.children().get(name) in (None, pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert served.children().get(name) not in (None, pid), f"the {name} was not restarted"
        _until_answering(served.web)
        rendered = until_rendered(served.web, pages.url(f"/page/sv-after-{name}"), 120, 200)
        assert rendered.headers["X-Ogshot-Cache"] in RENDERED
    assert served.proc.poll() is None
    text = served.log.read_text()
    assert "the worker exited with status -9" in text
    assert "the web tier exited with status -9" in text


def _fetch_into(web: str, page: str, answers: list[int]) -> None:
    answers.append(image(web, page).status_code)


def test_redis_stopped_during_renders_again_and_again(served: Served, pages: PageServer) -> None:
    """Three outages, each with a render in flight: every request is answered, and a new
    page renders after each outage."""
    web = served.web
    cached = pages.url("/page/sv-cached")
    assert until_rendered(web, cached, 120, 200).headers["X-Ogshot-Cache"] in RENDERED
    for cycle in range(3):
        answers: list[int] = []
        # A page that takes 3 s to load: its render is in flight when Redis goes away.
        slow = pages.url(f"/page/sv-slow-{cycle}?delay=3")
        fetch = threading.Thread(target=_fetch_into, args=(web, slow, answers))
        fetch.start()
        time.sleep(1.5)
        served.redis.stop()
        hit = image(web, cached)
        assert (hit.status_code, hit.headers["X-Ogshot-Cache"]) == (200, "hit")
        miss = image(web, pages.url(f"/page/sv-during-{cycle}"))
        assert (miss.status_code, miss.headers["X-Ogshot-Cache"]) == (200, "fallback")
        time.sleep(2)
        served.redis.start()
        fetch.join(timeout=60)
        assert answers == [200]
        after = until_rendered(web, pages.url(f"/page/sv-after-{cycle}"), 120, 200)
        assert after.headers["X-Ogshot-Cache"] in RENDERED, served.log.read_text()[-3000:]
    assert served.proc.poll() is None
