"""Changes announced over Redis: a web process's memory cache serves without asking storage
only while it hears every change (real Redis, real filesystem and moto S3 stores)."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.changes import AnnouncedStorage, ChangeListener
from shared.redisconn import connect
from shared.storage import Storage
from shared.storage.fs import FilesystemStorage
from shared.storage.hot import HotCache
from shared.storage.s3 import S3Storage, make_s3_client
from tests.helpers import redis_server
from tests.shared.test_storage import HOT, KEY, meta_for

LONG = 600.0  # seconds of freshness: only an announcement can make a test pass in time

# The S3 cases start moto's server (s3_endpoint, asked for by name): server tests.
S3 = pytest.param("s3", marks=pytest.mark.server)


@dataclass
class Stores:
    """One store seen by a web process (cache on), an announcing writer and a silent one."""

    reader: FilesystemStorage | S3Storage
    writer: AnnouncedStorage
    silent: Storage  # writes without announcing, as a change made behind ogshot's back


def _backends(kind: str, tmp_path: Path, request: pytest.FixtureRequest, seconds: float
              ) -> tuple[FilesystemStorage | S3Storage, Storage]:  # fmt: skip
    if kind == "filesystem":
        return FilesystemStorage(tmp_path, HOT, seconds), FilesystemStorage(tmp_path)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    reader = S3Storage(make_s3_client(endpoint), bucket, "prefix", HOT, seconds)
    reader.ensure_bucket()
    return reader, S3Storage(make_s3_client(endpoint), bucket, "prefix")


@pytest.fixture(params=["filesystem", S3])
def make_stores(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> Callable[[float], Stores]:
    """Build the three views of one store, the reader's copies fresh for ``seconds``."""

    def build(seconds: float) -> Stores:
        reader, silent = _backends(request.param, tmp_path, request, seconds)
        return Stores(reader, AnnouncedStorage(silent, connect(redis_url)), silent)

    return build


@contextlib.contextmanager
def listening(redis_url: str, cache: HotCache | None) -> Iterator[ChangeListener]:
    """Run a listener for ``cache`` until the block ends, once it trusts the cache."""
    assert cache is not None
    listener = ChangeListener(connect(redis_url), cache).start()
    try:
        assert poll(lambda: cache.trusted), "the listener never subscribed"
        yield listener
    finally:
        listener.stop()


def poll(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Whether ``condition`` becomes true within ``seconds`` (a bound, not a timing check)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def serves(store: Storage, data: bytes | None) -> Callable[[], bool]:
    """A check that ``store`` now answers with ``data`` (None: with no image)."""

    def check() -> bool:
        try:
            return store.get(KEY).data == data
        except FileNotFoundError:
            return data is None

    return check


def test_a_trusted_copy_is_served_without_asking_storage(
    make_stores: Callable[[float], Stores], redis_url: str
) -> None:
    """While the listener hears, a change made behind ogshot's back is not seen (the store
    is not asked); without the listener each hit asks, and sees it."""
    stores = make_stores(LONG)
    stores.writer.put(KEY, b"image", meta_for(b"image"))
    with listening(redis_url, stores.reader.hot):
        first = stores.reader.get(KEY)
        stores.silent.delete(KEY)
        assert stores.reader.get(KEY) is first
        assert stores.reader.head(KEY) == first.meta
    with pytest.raises(FileNotFoundError):
        stores.reader.get(KEY)


def test_announced_replace_and_delete_reach_the_reader(
    make_stores: Callable[[float], Stores], redis_url: str
) -> None:
    """A replace, then a delete, through the announcing store: the reader drops its copy."""
    stores = make_stores(LONG)
    stores.writer.put(KEY, b"old image", meta_for(b"old image"))
    with listening(redis_url, stores.reader.hot):
        assert stores.reader.get(KEY).data == b"old image"
        stores.writer.put(KEY, b"new image", meta_for(b"new image"))
        assert poll(serves(stores.reader, b"new image"))
        assert stores.reader.head(KEY).sha256 == meta_for(b"new image").sha256
        stores.writer.delete(KEY)
        assert poll(serves(stores.reader, None))


def test_freshness_bounds_a_change_nobody_announced(
    make_stores: Callable[[float], Stores], redis_url: str
) -> None:
    """A copy older than its freshness is confirmed with the store again."""
    stores = make_stores(0.3)
    stores.writer.put(KEY, b"old image", meta_for(b"old image"))
    with listening(redis_url, stores.reader.hot):
        assert stores.reader.get(KEY).data == b"old image"
        stores.silent.put(KEY, b"new image", meta_for(b"new image"))
        assert poll(serves(stores.reader, b"new image"))


def test_subscribing_forgets_copies_made_while_deaf(
    make_stores: Callable[[float], Stores], redis_url: str
) -> None:
    """Changes before the subscription went unheard: the cache starts empty."""
    stores = make_stores(LONG)
    stores.writer.put(KEY, b"image", meta_for(b"image"))
    stores.reader.get(KEY)
    assert stores.reader.hot is not None
    assert stores.reader.hot.version(KEY) is not None
    with listening(redis_url, stores.reader.hot):
        assert stores.reader.hot.version(KEY) is None


@pytest.mark.server
def test_losing_redis_stops_the_trust() -> None:
    """When Redis goes away the cache stops trusting: every hit asks storage again."""
    cache = HotCache(HOT, LONG)
    with redis_server() as base, listening(f"{base}/0", cache):
        assert cache.trusted
    assert poll(lambda: not cache.trusted, seconds=30)


def test_a_change_that_cannot_be_announced_is_still_made(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis unreachable: the image is stored and the lost announcement logged."""
    writer = AnnouncedStorage(FilesystemStorage(tmp_path), connect("redis://127.0.0.1:9/0"))
    with caplog.at_level(logging.WARNING, logger="shared.changes"):
        writer.put(KEY, b"image", meta_for(b"image"))
    assert writer.get(KEY).data == b"image"
    assert f"change of key={KEY} not announced" in caplog.text


def test_deployments_on_other_databases_are_not_heard(tmp_path: Path, redis_base: str) -> None:
    """Redis shares channels across databases: each database has its own."""
    reader = FilesystemStorage(tmp_path, HOT, LONG)
    other = AnnouncedStorage(FilesystemStorage(tmp_path / "other"), connect(f"{redis_base}/9"))
    reader.put(KEY, b"image", meta_for(b"image"))
    with listening(f"{redis_base}/8", reader.hot):
        reader.get(KEY)
        other.put(KEY, b"theirs", meta_for(b"theirs"))
        same = AnnouncedStorage(FilesystemStorage(tmp_path / "same"), connect(f"{redis_base}/8"))
        same.delete("v1/00/00/unrelated.png")  # heard: a later announcement than theirs
        assert poll(lambda: reader.hot is not None and reader.hot.generation() > 1)
        assert reader.hot is not None
        assert reader.hot.version(KEY) is not None
