"""The service commands: serve (development), web and worker (production), health."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from ogshot.supervisor import Child, supervise
from shared.changes import make_storage
from shared.config import Config, child_environment
from shared.jobs import QUEUES
from shared.jobstore import WORKER_PREFIX
from shared.metrics import OWN_MARK
from shared.redisconn import QueueUnavailable, connect, translated
from shared.storage import StorageUnavailable


def web_argv(config: Config, bind: str, workers: int | None) -> list[str]:
    """Return the gunicorn command line for the web tier."""
    argv = [
        sys.executable, "-m", "gunicorn", "web.wsgi:app",
        "--bind", bind,
        # Threads, not processes, wait for renders: a waiting request costs a thread only.
        "--worker-class", "gthread",
        "--threads", str(config.web_threads),
        # A request never takes longer than the miss wait plus storage time.
        "--timeout", str(int(config.miss_wait) + 30),
        "--graceful-timeout", "10",
        # No gunicorn access log: the app writes one line per request (web/access.py).
        "--config", "python:web.gunicorn_hooks",
        # gunicorn (27) opens a control socket in $HOME/.gunicorn: nothing uses it, and the
        # web tier writes nothing outside its temporary directories.
        "--no-control-socket",
    ]  # fmt: skip
    if workers:
        argv += ["--workers", str(workers)]
    return argv


def worker_argv(config: Config, concurrency: int | None, loglevel: str) -> list[str]:
    """Return the celery command line for a render worker.

    One page at a time per browser: a prefork pool of ``concurrency`` processes, each with
    its browser. Many (OGSHOT_RENDERS_PER_BROWSER above 1): one process whose threads share
    one browser, each render in a context of its own; a render mostly waits on the network,
    and the browser's own processes do the work, so threads do not contend for the GIL.
    """
    if config.renders_per_browser > 1:
        pool = ["--pool", "threads", "--concurrency", str(config.renders_per_browser)]
    else:
        pool = ["--concurrency", str(concurrency or config.worker_concurrency)]
    return [
        sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
        "--queues", ",".join(QUEUES),
        *pool,
        "--loglevel", loglevel,
        # Each pool process keeps a warm browser: --max-tasks-per-child would kill it.
        "--without-gossip",
    ]  # fmt: skip


def metrics_environment(*, own: bool = True, **overrides: str) -> dict[str, str]:
    """The environment for processes about to start, with one fresh Prometheus directory.

    prometheus_client adds up the values of every process that writes to the directory named
    by PROMETHEUS_MULTIPROC_DIR, and picks multiprocess mode from it at import time. With
    ``own`` the directory is marked for the service to remove when it ends
    (shared/metrics.py); without, whoever called this removes it.
    """
    env = child_environment(**overrides)
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        directory = tempfile.mkdtemp(prefix="ogshot-metrics-")
        if own:
            (Path(directory) / OWN_MARK).touch()
        env["PROMETHEUS_MULTIPROC_DIR"] = directory
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers(url: str) -> bool:
    try:
        with translated():
            return bool(connect(url).ping())
    except QueueUnavailable:
        return False


@contextlib.contextmanager
def _redis_for(config: Config) -> Iterator[str]:
    """Yield a Redis URL that answers, starting a private redis-server if needed."""
    if _redis_answers(config.redis_url):
        yield config.redis_url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "ogshot: Redis does not answer at OGSHOT_REDIS_URL and redis-server is not installed"
        )
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    print(f"ogshot: Redis does not answer; starting a private one on port {port}", file=sys.stderr)
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers(url):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("ogshot: the private redis-server did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _check_storage(config: Config) -> None:
    try:
        make_storage(config).check()
    except StorageUnavailable as exc:
        raise SystemExit(f"ogshot: storage {config.storage_url} is not usable: {exc}") from exc


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    """Run web and worker together until interrupted (development, the README's command).

    A child that exits is started again after a pause (ogshot/supervisor.py): a worker
    ended by a broker outage must not take the web tier with it.
    """
    _check_storage(config)
    with _redis_for(config) as redis_url:
        # One metrics directory for both: the web's /metrics then shows the renders too.
        # Not theirs to remove (a child started again still needs it): removed below.
        env = metrics_environment(own=False, OGSHOT_REDIS_URL=redis_url)
        bind = f"{args.host}:{args.port or config.port}"
        worker_env = {**env, "OGSHOT_WORKER_METRICS_PORT": "0"}
        children = [
            Child("worker", worker_argv(config, args.concurrency, "INFO"), worker_env),
            Child("web tier", web_argv(config, bind, 1), env),
        ]
        print(f"ogshot: serving on http://{bind}/", file=sys.stderr)
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            supervise(children, lambda: stopping)
        finally:
            # prometheus_client's variable (shared/metrics.py): the operator's stays; one
            # made above for the children is removed.
            if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
                shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
        return 0


def cmd_web(config: Config, args: argparse.Namespace) -> int:
    """Replace this process with gunicorn serving the web tier."""
    _check_storage(config)
    argv = web_argv(config, args.bind or f"0.0.0.0:{config.port}", args.workers)
    os.execve(sys.executable, argv, metrics_environment())


def cmd_worker(config: Config, args: argparse.Namespace) -> int:
    """Replace this process with a Celery render worker."""
    _check_storage(config)
    os.execve(sys.executable, worker_argv(config, args.concurrency, args.loglevel),
              metrics_environment())  # fmt: skip


def cmd_health(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 if this machine's web answers /healthz, or its worker beat recently (containers)."""
    if args.tier == "web":
        url = f"http://127.0.0.1:{config.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return 0 if response.status == 200 else 1
        except OSError as exc:
            print(f"ogshot: web not healthy: {exc}", file=sys.stderr)
            return 1
    pattern = f"{WORKER_PREFIX}{socket.gethostname()}-*"
    try:
        with translated():
            client = connect(config.redis_url)
            keys = list(client.scan_iter(pattern, count=1000))
            states = [str(client.hget(key, "browser") or "") for key in keys]
    except QueueUnavailable as exc:
        print(f"ogshot: worker not healthy: {exc}", file=sys.stderr)
        return 1
    if not states:
        print("ogshot: no worker process of this host beat in the last 30 s", file=sys.stderr)
        return 1
    failing = [s for s in states if s.startswith("failing")]
    if failing:
        # A worker whose browser cannot render must not look healthy, traffic or not.
        print(f"ogshot: worker not healthy: browser {failing[0]}", file=sys.stderr)
        return 1
    return 0
