"""What the tests share: the servers and processes of harness/servers.py (the benchmarks
start them too), the rule for a missing tool, and requests against a running ogshot."""

from __future__ import annotations

import os
import time
from urllib.parse import quote_plus

import pytest
import requests
from flask import Flask

from harness import servers
from harness.servers import (
    ATTACKS,
    LOCAL_PAGES,
    NO_WORKER_METRICS,
    PAGE,
    MissingTool,
    PageServer,
    free_port,
    ogshot_env,
    redis_argv,
    redis_server,
    s3_server,
    self_signed,
    serving,
    start,
    stop_process,
    wait_for_port,
)
from shared.config import load_config
from shared.ratelimit import RateLimits
from shared.storage import Storage
from shared.storage.memory import MemoryStorage
from web import create_app

__all__ = [
    "ATTACKS", "BINARIES", "CI", "LOCAL_PAGES", "NO_WORKER_METRICS", "PAGE", "MissingTool",
    "PageServer", "close_to", "free_port", "image", "local_app", "ogshot_env", "redis_argv",
    "redis_server", "require", "s3_server", "self_signed", "serving", "start", "stop_process",
    "until_rendered", "wait_for_port", "wait_job",
]  # fmt: skip

CI = os.environ.get("CI") == "true"


# The executables each engine needs (require() each before starting the engine).
BINARIES = {"firefox": ("firefox-esr",), "chromium": ("chromium", "chromedriver")}


def _skip_or_fail(message: str) -> None:
    """A missing tool skips the test, but fails it under CI."""
    if CI:
        pytest.fail(message + " (CI=true: a missing tool fails the run)")
    pytest.skip(message)


servers.on_missing = _skip_or_fail
require = servers.require


def close_to(pixel: object, rgb: tuple[int, int, int], tolerance: int = 12) -> bool:
    """Tell whether an RGB(A) pixel is within ``tolerance`` of ``rgb`` on every channel."""
    values = tuple(pixel)[:3]  # type: ignore[arg-type]
    return all(abs(a - b) <= tolerance for a, b in zip(values, rgb, strict=True))


def image(web: str, page: str, timeout: float = 60) -> requests.Response:
    """GET the og:image (PNG) of ``page`` from the ogshot at ``web``."""
    return requests.get(f"{web}/image/{quote_plus(page)}.png", timeout=timeout)


def until_rendered(
    web: str, page: str, timeout: float = 90, every_status: int | None = None
) -> requests.Response:
    """Fetch until the real image (not the fallback) comes back, or ``timeout`` passes.

    With ``every_status``, each answer on the way must have that status.
    """
    deadline = time.monotonic() + timeout
    while True:
        response = image(web, page)
        if every_status is not None:
            assert response.status_code == every_status
        if response.headers["X-Ogshot-Cache"] in ("miss", "hit") or time.monotonic() > deadline:
            return response
        time.sleep(1)


def wait_job(web: str, token: str, job_id: str, timeout: float = 90) -> dict[str, object]:
    """Follow a pre-warm job through the API until it is done or failed; return its record."""
    deadline = time.monotonic() + timeout
    while True:
        record: dict[str, object] = requests.get(
            f"{web}/api/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()
        if record["status"] in ("done", "failed"):
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still not finished after {timeout}s: {record}")
        time.sleep(0.3)


def local_app(
    redis_url: str, storage: Storage | None = None, limits: RateLimits | None = None, **env: str
) -> Flask:
    """The web app over a real Redis, allowed to render 127.0.0.1, storage in memory by default."""
    config = load_config({**LOCAL_PAGES, "OGSHOT_REDIS_URL": redis_url, **env})
    return create_app(config, storage=storage or MemoryStorage(), limits=limits)
