"""A worker whose browser cannot start does not look healthy, and ends so it is replaced.

Its health check fails within a minute with no traffic at all (the heartbeat probes the
browser with a blank page), and after a bounded number of failed starts the worker exits
non-zero, so compose's `restart:` policy, systemd or an orchestrator start a new one.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import ogshot_env, require, start, stop_process

pytestmark = [pytest.mark.e2e, pytest.mark.server]
FIREFOX_DIR = Path("/usr/lib/firefox-esr")


def _broken_firefox(tmp_path: Path) -> Path:
    """A Firefox install whose executable exits at once, as one that cannot start does."""
    require("firefox-esr")
    folder = tmp_path / "firefox"
    folder.mkdir()
    for name in ("application.ini", "platform.ini"):  # what mozversion reads beside it
        shutil.copy(FIREFOX_DIR / name, folder / name)
    binary = folder / "firefox-esr"
    binary.write_text("#!/bin/sh\necho 'Error: no DISPLAY environment variable specified' >&2\n"
                      "exit 1\n")  # fmt: skip
    binary.chmod(0o755)
    return binary


def _health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ogshot", "health", "worker"], env=env, capture_output=True,
                          text=True, timeout=30, check=False)  # fmt: skip


def test_worker_with_a_browser_that_cannot_start_fails_health_then_exits(
    tmp_path: Path, redis_base: str
) -> None:
    """No traffic: health fails naming the browser within a minute; the worker exits 1."""
    env = ogshot_env(
        OGSHOT_REDIS_URL=f"{redis_base}/15",
        OGSHOT_STORAGE_URL=str(tmp_path / "images"),
        OGSHOT_BROWSER="firefox",
        OGSHOT_BROWSER_BINARY=str(_broken_firefox(tmp_path)),
        OGSHOT_WORKER_CONCURRENCY="1",
    )
    log = tmp_path / "worker.log"
    worker = start(["ogshot", "worker"], env, log)
    try:
        deadline = time.monotonic() + 60
        health = _health(env)
        while "browser failing" not in health.stderr and time.monotonic() < deadline:
            time.sleep(1)
            health = _health(env)
        assert health.returncode == 1
        assert "firefox did not start" in health.stderr
        assert "no DISPLAY" in health.stderr  # what the browser said comes along
        assert worker.wait(timeout=120) == 1
    finally:
        stop_process(worker)
    text = log.read_text()
    assert "stopping the worker: firefox did not start 5 times" in text
    assert text.count("browser did not start") == 5
