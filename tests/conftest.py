"""Fixtures shared by every test: real Redis, a real S3 server, real page servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shared.redisconn import connect
from tests.helpers import PageServer, redis_server, s3_server

# Every process the tests start (worker, web, moto) signs S3 requests with these.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

# Console scripts (ogshot, celery, moto_server) live beside the interpreter running pytest.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ["PATH"].split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ["PATH"]


@pytest.fixture(scope="session", autouse=True)
def _processes_tmpdir() -> Iterator[None]:
    """Every process the tests start keeps its temporary files (a browser's profile, its
    sockets) in one directory of the session's, removed at the end: a worker the tests stop
    with SIGKILL or SIGTERM leaves its browsers' files behind. Short, for Chromium's socket
    path. The tests' own process keeps the temporary directory it had."""
    tempfile.gettempdir()  # cached before TMPDIR changes: this process's stays as it was
    own = tempfile.mkdtemp(prefix="ogshot-tests-")
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = own
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TMPDIR")
        else:
            os.environ["TMPDIR"] = before
        _end_processes_of(own)
        shutil.rmtree(own, ignore_errors=True)


def _end_processes_of(tmpdir: str, seconds: float = 10) -> None:
    """Wait for the processes started with TMPDIR ``tmpdir`` to end; kill what is left."""
    mark = f"TMPDIR={tmpdir}".encode()
    deadline = time.monotonic() + seconds
    while True:
        left = []
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if entry.name.isdigit() and mark in (entry / "environ").read_bytes().split(b"\0"):
                    left.append(int(entry.name))
        if not left:
            return
        if time.monotonic() >= deadline:
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.2)


# Fixtures that start a server or a subprocess: a test that uses one is a server test.
SERVER_FIXTURES = {"redis_base", "s3_endpoint", "pages", "canary", "engine", "idle"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark server every test that uses a server fixture, so -m "not server" is the quick tier."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


@pytest.fixture(autouse=True)
def _servers_are_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail a test not marked server that listens on a socket or starts a process."""
    if request.node.get_closest_marker("server"):
        yield
        return
    started: list[str] = []
    listen, popen = socket.socket.listen, subprocess.Popen.__init__

    def listening(sock: socket.socket, *args: int) -> None:
        started.append("listens on a socket")
        listen(sock, *args)

    def starting(proc: subprocess.Popen, args: object, *more: object, **kw: object) -> None:
        started.append(f"starts {str(args)[:80]}")
        popen(proc, args, *more, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "listen", listening)
    monkeypatch.setattr(subprocess.Popen, "__init__", starting)
    yield
    assert not started, f"this test {started[0]}: mark it server (pytest.mark.server)"


@pytest.fixture(scope="session")
def redis_base() -> Iterator[str]:
    """A private redis-server for the whole run: base URL without a database."""
    with redis_server() as url:
        yield url


@pytest.fixture
def redis_url(redis_base: str) -> Iterator[str]:
    """An empty Redis database for one test."""
    url = f"{redis_base}/1"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the test's empty Redis database."""
    client = connect(redis_url)  # as ogshot connects: text answers, bounded waits
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, running as a real HTTP server for the whole run."""
    with s3_server() as url:
        yield url


@pytest.fixture(scope="session")
def pages() -> Iterator[PageServer]:
    """The allowed origin: test pages on 127.0.0.1."""
    server = PageServer("127.0.0.1")
    yield server
    server.close()


@pytest.fixture(scope="session")
def canary() -> Iterator[PageServer]:
    """An internal server on another loopback address that must never be reached."""
    server = PageServer("127.0.0.2")
    yield server
    server.close()


@pytest.fixture
def tmp_store(tmp_path: Path) -> Path:
    """An empty directory for a filesystem store."""
    path = tmp_path / "images"
    path.mkdir()
    return path
