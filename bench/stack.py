"""Real processes for the benchmarks: Redis, a page server, S3, ``ogshot web`` and a worker.

The servers and process helpers are harness/servers.py's, which the end-to-end tests use
too: the benchmarks run the same servers the tests trust, and import nothing from tests/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

import requests
from PIL import Image

from harness.servers import (
    PageServer,
    free_port,
    ogshot_env,
    redis_argv,
    s3_server,
    serving,
    start,
    stop_process,
)
from ogshot.services import web_argv
from shared.changes import make_storage
from shared.config import load_config
from shared.imaging import encode
from shared.keys import RenderRequest
from shared.storage import ImageMeta

# The console script of the Python running the benchmark (its venv need not be on PATH).
OGSHOT = str(Path(sys.executable).with_name("ogshot"))
# One load generator is one client on one host: lift the abuse limits that would otherwise
# (rightly) turn most of its misses into fallbacks.
UNLIMITED = {
    "OGSHOT_CLIENT_MISSES_PER_MINUTE": "1000000",
    "OGSHOT_HOST_RENDERS_PER_MINUTE": "1000000",
    "PYTHONUNBUFFERED": "1",
}


def sample_png() -> bytes:
    """A 1200x630 PNG about the size of a real screenshot (text-like bands and a photo)."""
    image = Image.linear_gradient("L").resize((1200, 630)).convert("RGB")
    photo = Image.effect_noise((420, 280), 64).convert("RGB")
    image.paste(photo, (720, 300))
    return encode(image, "png")


@dataclass(frozen=True)
class Layout:
    """Which CPUs each side of a deployment may use, standing for separate machines."""

    web: tuple[int, ...]  # the web tier, Redis and the load generator
    worker: tuple[int, ...]  # the worker with its browsers, and the page server

    @classmethod
    def split(cls) -> Layout:
        """Half of this process's CPUs each (the web side gets the smaller half)."""
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("pinning web and worker apart needs at least two CPUs")
        half = len(cpus) // 2
        return cls(tuple(cpus[:half]), tuple(cpus[half:]))

    def describe(self) -> str:
        """One line for the report."""
        return (f"CPU {_cpus(self.web)}: web tier, Redis, load generator; "
                f"CPU {_cpus(self.worker)}: worker, its browsers, page server")  # fmt: skip


def _cpus(cpus: tuple[int, ...]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def _threads(pid: int) -> list[int]:
    return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]


class Bench(contextlib.ExitStack):
    """The shared servers of one benchmark run, and the processes started on top of them."""

    def __init__(self, tmp: Path) -> None:
        super().__init__()
        self.tmp = tmp
        self.pages = PageServer()
        self.callback(self.pages.close)
        port = free_port()
        self._redis = self.enter_context(serving(redis_argv(port), port))
        self.redis_base = f"redis://127.0.0.1:{port}"
        self._s3: str | None = None
        # Redis has 16 databases; a long run reuses them (each deployment's keys are its own
        # pages', and its queues are empty once it stopped).
        self._databases = itertools.cycle(range(1, 16))
        # The pid of the gunicorn master serving each base URL ``web`` yielded.
        self.web_pids: dict[str, int] = {}
        # While ``pinned``: the CPUs web and worker processes are started on.
        self.layout: Layout | None = None

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Layout]:
        """Keep each side of the deployment on its own CPUs (as taskset does) until the
        block ends: web and worker processes started meanwhile, Redis, the page server's
        threads, and this thread, whose threads and children (the load generators) follow."""
        layout = Layout.split()
        sides = dict.fromkeys((*_threads(self._redis.pid), threading.get_native_id()), layout.web)
        sides[self.pages.thread_id] = layout.worker  # its request threads inherit it
        saved = {tid: os.sched_getaffinity(tid) for tid in sides}
        for tid, cpus in sides.items():
            os.sched_setaffinity(tid, cpus)
        self.layout = layout
        try:
            yield layout
        finally:
            self.layout = None
            for tid, cpus in saved.items():
                with contextlib.suppress(OSError):  # a thread that ended meanwhile
                    os.sched_setaffinity(tid, cpus)

    def _on(self, side: str, argv: list[str]) -> list[str]:
        """``argv`` started on ``side``'s CPUs while pinned."""
        if self.layout is None:
            return argv
        cpus = self.layout.web if side == "web" else self.layout.worker
        return ["taskset", "--cpu-list", _cpus(cpus), *argv]

    def s3_endpoint(self) -> str:
        """Start moto's S3 server on first use."""
        if self._s3 is None:
            # moto takes any credentials; boto3 (here and in the children) insists on some,
            # and reads them from the environment itself (not ogshot settings).
            for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                                ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
                os.environ.setdefault(name, value)
            self._s3 = self.enter_context(s3_server())
        return self._s3

    def env(self, store: str, **settings: str) -> dict[str, str]:
        """The environment of one ogshot deployment: its own Redis database and store."""
        env = {"OGSHOT_REDIS_URL": f"{self.redis_base}/{next(self._databases)}", **UNLIMITED}
        if store == "s3":
            bucket = f"bench-{uuid.uuid4().hex[:12]}"
            env |= {"OGSHOT_STORAGE_URL": f"s3://{bucket}/og",
                    "OGSHOT_S3_ENDPOINT_URL": self.s3_endpoint()}  # fmt: skip
        else:
            env["OGSHOT_STORAGE_URL"] = str(self.tmp / f"images-{uuid.uuid4().hex[:8]}")
        return ogshot_env(**env, **settings)

    def cached(
        self, env: dict[str, str], data: bytes, name: str, versions: tuple[str, ...] = ()
    ) -> str:
        """Store ``data`` as the image of a page, known to show ``versions``; return the page
        URL (a hit from now on)."""
        url = self.pages.url(f"/page/{name}")
        request = RenderRequest.build(url)
        store = make_storage(load_config(env))
        meta = ImageMeta.describe(request, data, engine="bench", render_ms=0)
        store.put(request.cache_key(), data, dataclasses.replace(meta, versions=versions))
        return url

    @contextlib.contextmanager
    def web(self, env: dict[str, str], app: str = "web.wsgi:app") -> Iterator[str]:
        """Serve ``app`` with the gunicorn command line of ``ogshot web``; yield its base URL."""
        port = free_port()
        argv = [OGSHOT, "web", "--bind", f"127.0.0.1:{port}"]
        if app != "web.wsgi:app":
            argv = web_argv(load_config(env), f"127.0.0.1:{port}", None)
            argv[argv.index("web.wsgi:app")] = app
        log = self.tmp / f"web-{port}.log"
        with serving(self._on("web", argv), port, env, log) as proc:
            url = f"http://127.0.0.1:{port}"
            self.web_pids[url] = proc.pid
            yield url

    @contextlib.contextmanager
    def worker(
        self, env: dict[str, str], web: str, concurrency: int, tree: Path | None = None
    ) -> Iterator[int]:
        """Run ``ogshot worker`` (of the checkout ``tree``, if given: an earlier commit's
        worker beside this one's web); yield its pid once each pool process rendered once."""
        log = self.tmp / f"worker-{uuid.uuid4().hex[:8]}.log"
        argv = [OGSHOT, "worker", "--concurrency", str(concurrency)]
        if tree is not None:
            # Its own packages first on the path: the console script would import this one's.
            code = "import sys; from ogshot.cli import main; sys.exit(main())"
            argv = [sys.executable, "-c", code, "worker", "--concurrency", str(concurrency)]
            env = {**env, "PYTHONPATH": str(tree)}
        proc = start(self._on("worker", argv), env, log, cwd=tree)
        try:
            warm = [
                self.pages.url(f"/page/warm-{uuid.uuid4().hex}") for _ in range(concurrency * 2)
            ]
            fetch_all(web, warm, timeout=120)
            yield proc.pid
        finally:
            stop_process(proc)


def image_url(web: str, page_url: str) -> str:
    """The og:image URL of a page."""
    return f"{web}/image/{quote_plus(page_url)}.png"


def fetch(web: str, page_url: str, timeout: float = 60) -> requests.Response:
    """GET a page's image until it is a real image (not the fallback), up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(image_url(web, page_url), timeout=timeout)
        if response.headers.get("X-Ogshot-Cache") in ("hit", "miss", "stale"):
            return response
        if time.monotonic() > deadline:
            raise TimeoutError(f"no image of {page_url} after {timeout}s")
        time.sleep(0.2)


def fetch_all(web: str, page_urls: list[str], parallel: int = 0, timeout: float = 60) -> None:
    """Fetch every page's image, ``parallel`` at a time (default: all at once)."""
    with ThreadPoolExecutor(parallel or max(1, len(page_urls))) as pool:
        for response in pool.map(lambda url: fetch(web, url, timeout), page_urls):
            Image.open(io.BytesIO(response.content)).verify()
