"""The whole stack as real processes: gunicorn web, Celery worker with a browser, storage."""

from __future__ import annotations

import contextlib
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import requests

from shared.storage import Storage
from shared.storage.fs import FilesystemStorage
from shared.storage.s3 import S3Storage, make_s3_client
from tests.helpers import (
    BINARIES,
    PageServer,
    free_port,
    ogshot_env,
    require,
    start,
    stop_process,
    wait_for_port,
    wait_job,
)

STACKS = [("firefox", "fs"), ("firefox", "s3"), ("chromium", "fs"), ("chromium", "s3")]
# The stacks of the tests marked two_stacks: each engine once, each store once.
TWO_STACKS = [("firefox", "s3"), ("chromium", "fs")]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the two_stacks tests' runs on the other stacks (deselected, not skipped)."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        stack = callspec.params.get("stack") if callspec else None
        off = item.get_closest_marker("two_stacks") and stack not in (None, *TWO_STACKS)
        (dropped if off else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@dataclass
class Stack:
    """A running ogshot: web URLs, its Redis, its store, and the page server it renders."""

    name: str
    web: str  # waits up to 20 s for a render
    impatient_web: str  # waits 0.5 s, to see the fallback; images go stale after 3 s
    worker_metrics: str  # the worker's Prometheus endpoint
    redis_url: str
    storage: Storage
    pages: PageServer
    logs: Path
    env: dict[str, str] = field(default_factory=dict)  # every ogshot process's environment
    procs: list[subprocess.Popen] = field(default_factory=list)

    def page(self, name: str, **query: str) -> str:
        """Return a page URL unique to this stack (page loads are counted per path)."""
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        return self.pages.url(f"/page/{self.name}-{name}") + (f"?{suffix}" if suffix else "")

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """Call the JSON API with the stack's token."""
        headers = {"Authorization": f"Bearer {TOKEN}"}
        return requests.request(method, self.web + path, headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]

    def wait_job(self, job_id: str, timeout: float = 60) -> dict[str, object]:
        """Poll a job until it is done or failed."""
        return wait_job(self.web, TOKEN, job_id, timeout)

    def image_url(self, page_url: str, ext: str = "png", web: str | None = None) -> str:
        """The og:image URL for ``page_url``."""
        return f"{web or self.web}/image/{quote_plus(page_url)}.{ext}"


def _wait_for_worker(stack: Stack, timeout: float = 120) -> None:
    # The worker is ready when a render comes back: that also warms its browser.
    url = stack.image_url(stack.page("warm-up"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(url, timeout=30)
        if response.headers.get("X-Ogshot-Cache") in ("hit", "miss"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"worker of {stack.name} rendered nothing in {timeout}s; see {stack.logs}")


TOKEN = "test-token-0123456789abcdef"
WEBHOOK_SECRET = "e2e-webhook-secret-0123456789abcdef"
# Seconds: a webhook that never answers is given up soon. One that fails twice gets its
# third attempt only if its second came within this less 2 s (the pause after it) of the
# delivery's making: with 4, a loaded CI run's second came 2.004 s in (a pause of 1 s and
# two looks at the queue, 0.5 s apart each) and the delivery was given up.
WEBHOOK_HORIZON = 8
# Signatures are checked when given, not required: the other tests fetch unsigned URLs.
SIGNING_KEY = "e2e-signing-key-0123456789abcdef"
FAILURE_TTL = 3  # seconds a failed render is remembered in the stacks
ADMIN_PASSWORD = "e2e admin password"


# Session scope: pytest groups the tests of every module by stack, so each starts once.
@pytest.fixture(scope="session", params=STACKS, ids=["-".join(s) for s in STACKS])
def stack(
    request: pytest.FixtureRequest,
    redis_base: str,
    pages: PageServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Start web (two processes: patient and impatient) and a worker for one engine and store."""
    engine, store = request.param
    tmp = tmp_path_factory.mktemp(f"{engine}-{store}")
    with running_stack(request, engine, store, tmp, db=2 + STACKS.index(request.param)) as up:
        yield up


# Module scope: one module uses it, and its browsers need not idle through the others'.
@pytest.fixture(scope="module", params=["firefox", "chromium"])
def stack_at_once(
    request: pytest.FixtureRequest,
    redis_base: str,
    pages: PageServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """A stack (filesystem store) whose worker renders up to four pages at once in one
    browser (OGSHOT_RENDERS_PER_BROWSER, issue 27)."""
    engine = request.param
    tmp = tmp_path_factory.mktemp(f"{engine}-at-once")
    db, name = 6 + ["firefox", "chromium"].index(engine), f"{engine}-at-once"
    # A patient web: a batch of renders at once queues behind four slots, and an answer
    # still pending would hide a render that reached the canary after it.
    settings = {"OGSHOT_RENDERS_PER_BROWSER": "4", "OGSHOT_MISS_WAIT": "60"}
    with running_stack(request, engine, "fs", tmp, db=db, name=name, **settings) as up:
        yield up


@contextlib.contextmanager
def running_stack(
    request: pytest.FixtureRequest,
    engine: str,
    store: str,
    tmp: Path,
    *,
    db: int,
    name: str = "",
    **settings: str,
) -> Iterator[Stack]:
    """A stack of ``engine`` and ``store`` on Redis database ``db``, its files in ``tmp``,
    named ``name`` (else engine-store); ``settings`` added to its environment."""
    for binary in (*BINARIES[engine], "ogshot"):
        require(binary)
    redis_base = request.getfixturevalue("redis_base")
    pages = request.getfixturevalue("pages")
    metrics_port = free_port()
    redis_url = f"{redis_base}/{db}"
    env = {
        "OGSHOT_REDIS_URL": redis_url,
        "OGSHOT_BROWSER": engine,
        "OGSHOT_MISS_WAIT": "20",
        "OGSHOT_MAX_WAITING": "24",
        "OGSHOT_WORKER_CONCURRENCY": "1",
        "OGSHOT_API_TOKENS": TOKEN,
        "OGSHOT_PREWARM_DEBOUNCE": "1",
        "OGSHOT_FAILURE_TTL": str(FAILURE_TTL),
        "OGSHOT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OGSHOT_MAX_PAGE_BYTES": "2000000",
        "OGSHOT_WORKER_METRICS_PORT": str(metrics_port),
        "OGSHOT_SECRET_KEY": "e2e-secret-key-0123456789abcdef0123456789",
        "OGSHOT_WEBHOOK_HOSTS": "127.0.0.1",
        "OGSHOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "OGSHOT_WEBHOOK_HORIZON": str(WEBHOOK_HORIZON),
        "OGSHOT_WEBHOOK_TIMEOUT": "1",
        "OGSHOT_SIGNING_KEYS": SIGNING_KEY,
        "OGSHOT_REQUIRE_SIGNATURE": "false",
        "PYTHONUNBUFFERED": "1",
        **settings,
    }
    storage: Storage
    if store == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"e2e-{uuid.uuid4().hex[:12]}"
        env |= {"OGSHOT_STORAGE_URL": f"s3://{bucket}/og", "OGSHOT_S3_ENDPOINT_URL": endpoint}
        storage = S3Storage(make_s3_client(endpoint), bucket, "og")
    else:
        env["OGSHOT_STORAGE_URL"] = str(tmp / "images")
        storage = FilesystemStorage(tmp / "images")
    full_env = ogshot_env(**env)
    ports = free_port(), free_port()
    stack = Stack(
        name=name or f"{engine}-{store}",
        web=f"http://127.0.0.1:{ports[0]}",
        impatient_web=f"http://127.0.0.1:{ports[1]}",
        worker_metrics=f"http://127.0.0.1:{metrics_port}/metrics",
        redis_url=redis_url,
        storage=storage,
        pages=pages,
        logs=tmp,
        env=full_env,
    )
    try:
        stack.procs.append(start(["ogshot", "worker"], full_env, tmp / "worker.log"))
        overrides = ({}, {"OGSHOT_MISS_WAIT": "0.5", "OGSHOT_CACHE_TTL": "3"})
        for port, override in zip(ports, overrides, strict=True):
            argv = ["ogshot", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
            proc = start(argv, {**full_env, **override}, tmp / f"web-{port}.log")
            stack.procs.append(proc)
            wait_for_port("127.0.0.1", port, proc=proc)
        _wait_for_worker(stack)
        yield stack
    finally:
        for proc in stack.procs:
            stop_process(proc)
