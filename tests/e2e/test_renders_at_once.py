"""OGSHOT_RENDERS_PER_BROWSER above 1 (issue 27): the worker is one process whose threads
share one browser, each render in a context of its own. A crawler's batch of misses for
eight gallery pages at once, with the browser recycled every three renders: every image
is delivered, each the same pixels as its reference from the engines before."""

from __future__ import annotations

import io
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from ogshot_client import og_image_url
from PIL import Image

from tests.helpers import (
    BINARIES,
    PageServer,
    free_port,
    ogshot_env,
    require,
    serving,
    start,
    stop_process,
)
from tests.worker.gallery import NOISY_SHARE, differing, exhibits, reference
from worker.reaper import browser_processes

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]
# Viewport pages without render options that the quality gate keeps (the placeholder is
# refused, as it should be; fragments are dropped from page URLs).
NAMES = ["spa", "lazy", "fade", "font", "consent", "tall", "late-fetch", "chart"]


@pytest.mark.parametrize("engine", ["firefox", "chromium"])
def test_a_batch_of_misses_renders_at_once_as_before(
    tmp_path: Path, redis_base: str, pages: PageServer, engine: str
) -> None:
    for binary in BINARIES[engine]:
        require(binary)
    chosen = [exhibit for exhibit in exhibits() if exhibit.name in NAMES]
    for exhibit in chosen:
        pages.files.update(exhibit.files)
    port = free_port()
    # The browsers' files in a directory of the test's (a short path: Chromium's socket),
    # removed after it even where a browser stopped by the test's signal left some.
    browsers_tmp = tempfile.mkdtemp(prefix="ogshot-e2e-")
    env = ogshot_env(
        TMPDIR=browsers_tmp,
        OGSHOT_REDIS_URL=f"{redis_base}/12",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER=engine,
        OGSHOT_RENDERS_PER_BROWSER="4",
        # Drained and restarted during the batch: renders in flight finish first.
        OGSHOT_BROWSER_MAX_RENDERS="3",
        OGSHOT_MISS_WAIT="60",
        OGSHOT_HOST_RENDERS_PER_MINUTE="0",
        OGSHOT_CLIENT_MISSES_PER_MINUTE="0",
    )
    worker_log = tmp_path / "worker.log"
    worker = start(["ogshot", "worker"], env, worker_log)
    answers: dict[str, requests.Response] = {}
    try:
        argv = ["ogshot", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
        with serving(argv, port, env, tmp_path / "web.log"):
            web = f"http://127.0.0.1:{port}"

            def fetch(name: str, path: str) -> None:
                answers[name] = requests.get(
                    og_image_url(web, pages.url(f"/files/{path}")), timeout=120
                )

            threads = [threading.Thread(target=fetch, args=(exhibit.name, exhibit.path))
                       for exhibit in chosen]  # fmt: skip
            browsers = Browsers(worker.pid)
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(150)
            browsers.stop()
    finally:
        stop_process(worker)
        # The browsers end a moment after the worker (Firefox writes its prefs as it goes).
        for _ in range(100):
            if not browser_processes(owner=worker.pid):
                break
            time.sleep(0.2)
        shutil.rmtree(browsers_tmp, ignore_errors=True)
    said = worker_log.read_text(errors="replace")
    assert "concurrency: 4 (thread)" in said, said[:3000]  # Celery's banner
    for exhibit in chosen:
        answer = answers[exhibit.name]
        assert answer.status_code == 200
        assert answer.headers["X-Ogshot-Cache"] == "miss", f"{exhibit.name}: {said[-3000:]}"
        image = Image.open(io.BytesIO(answer.content)).convert("RGB")
        expected = Image.open(reference(engine, exhibit.name)).convert("RGB")
        assert image.size == expected.size
        off = differing(image, expected)
        assert off <= NOISY_SHARE * image.width * image.height, f"{exhibit.name}: {off} differ"
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
