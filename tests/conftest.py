"""Fixtures shared by every test: real Redis, a real S3 server, real page servers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.helpers import PageServer, redis_server, s3_server

# Every process the tests start (worker, web, moto) signs S3 requests with these.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

# Console scripts (ogshot, celery, moto_server) live beside the interpreter running pytest.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ["PATH"].split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ["PATH"]


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
