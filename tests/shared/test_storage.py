"""Storage backends: the same contract for memory, filesystem and S3 (a real moto server)."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from pathlib import Path

import pytest

from shared.changes import AnnouncedStorage, make_storage
from shared.config import load_config
from shared.keys import RenderRequest
from shared.storage import ImageMeta, Storage, StorageUnavailable
from shared.storage.fs import FilesystemStorage
from shared.storage.memory import MemoryStorage
from shared.storage.s3 import S3Storage, make_s3_client

REQUEST = RenderRequest.build("https://example.com/a")
KEY = REQUEST.cache_key()

# The S3 cases start moto's server (s3_endpoint, asked for by name): server tests.
S3 = pytest.param("s3", marks=pytest.mark.server)
S3_HOT = pytest.param("s3-hot", marks=pytest.mark.server)


def meta_for(data: bytes) -> ImageMeta:
    """Describe ``data`` as a render of REQUEST."""
    return ImageMeta.describe(REQUEST, data, engine="firefox", render_ms=12)


HOT = 1024 * 1024  # bytes of memory cache in the "-hot" variants


def _s3(request: pytest.FixtureRequest, bucket: str, hot_bytes: int = 0) -> S3Storage:
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = S3Storage(make_s3_client(endpoint), bucket, "prefix", hot_bytes)
    s3.ensure_bucket()
    return s3


@pytest.fixture(params=["memory", "filesystem", "filesystem-hot", S3, S3_HOT])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each backend in turn, empty; "-hot" with its in-memory cache of recent images."""
    hot_bytes = HOT if request.param.endswith("-hot") else 0
    if request.param == "memory":
        return MemoryStorage()
    if request.param.startswith("filesystem"):
        return FilesystemStorage(tmp_path / "images", hot_bytes)
    return _s3(request, f"test-{uuid.uuid4().hex[:12]}", hot_bytes)


@pytest.fixture(params=["filesystem", S3])
def reader_and_writer(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Storage, Storage]:
    """Two clients of one store: a web process's (memory cache on) and a worker's."""
    if request.param == "filesystem":
        return FilesystemStorage(tmp_path, HOT), FilesystemStorage(tmp_path)
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    return _s3(request, bucket, HOT), _s3(request, bucket)


def test_memory_cache_serves_a_confirmed_image_from_memory(
    reader_and_writer: tuple[Storage, Storage],
) -> None:
    """The second read of an unchanged image is the object already in memory."""
    reader, writer = reader_and_writer
    writer.put(KEY, b"image bytes", meta_for(b"image bytes"))
    first = reader.get(KEY)
    assert reader.get(KEY) is first


def test_memory_cache_never_serves_a_replaced_or_deleted_image(
    reader_and_writer: tuple[Storage, Storage],
) -> None:
    """Another process's replace is seen at once (same size too), and so is its delete."""
    reader, writer = reader_and_writer
    writer.put(KEY, b"old image", meta_for(b"old image"))
    assert reader.get(KEY).data == b"old image"
    writer.put(KEY, b"new image", meta_for(b"new image"))
    stored = reader.get(KEY)
    assert stored.data == b"new image"
    assert stored.meta.sha256 == meta_for(b"new image").sha256
    writer.delete(KEY)
    with pytest.raises(FileNotFoundError):
        reader.get(KEY)


def test_missing_key_raises_file_not_found(store: Storage) -> None:
    """A key never written is FileNotFoundError for get and head, and delete is quiet."""
    with pytest.raises(FileNotFoundError):
        store.get(KEY)
    with pytest.raises(FileNotFoundError):
        store.head(KEY)
    store.delete(KEY)


def test_round_trip_with_metadata(store: Storage) -> None:
    """Bytes and metadata come back as written; head returns the metadata alone."""
    data = b"\x89PNG fake image bytes"
    meta = meta_for(data)
    store.put(KEY, data, meta)
    stored = store.get(KEY)
    assert stored.data == data
    assert stored.meta == meta
    assert store.head(KEY) == meta
    assert meta.size == len(data)
    store.check()


def test_metadata_keeps_what_the_wait_was_held_by_and_reads_newer_fields() -> None:
    """``waited`` round-trips; a field a newer ogshot wrote is left out, not refused (a
    rolling deploy), and metadata written before ``waited`` existed reads as ""."""
    meta = ImageMeta.describe(REQUEST, b"x", engine="firefox", render_ms=1, waited="images")
    assert ImageMeta.from_json(meta.to_json()).waited == "images"
    newer = json.loads(meta.to_json()) | {"something_new": 1}
    assert ImageMeta.from_json(json.dumps(newer)) == meta
    older = {k: v for k, v in json.loads(meta.to_json()).items() if k != "waited"}
    assert ImageMeta.from_json(json.dumps(older)).waited == ""


def test_put_replaces_and_delete_removes(store: Storage) -> None:
    """A second put replaces bytes and metadata together; delete removes the image."""
    store.put(KEY, b"old", meta_for(b"old"))
    store.put(KEY, b"new!", meta_for(b"new!"))
    stored = store.get(KEY)
    assert (stored.data, stored.meta.size) == (b"new!", 4)
    store.delete(KEY)
    with pytest.raises(FileNotFoundError):
        store.get(KEY)


def test_concurrent_replace_never_shows_a_mix(store: Storage) -> None:
    """Readers racing a writer see either the old or the new image, each with its own meta."""
    images = [bytes([i]) * (1000 + i) for i in range(2)]
    store.put(KEY, images[0], meta_for(images[0]))
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            stored = store.get(KEY)
            if stored.meta.size != len(stored.data) or stored.data not in images:
                problems.append("torn read")

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(30):
        data = images[i % 2]
        store.put(KEY, data, meta_for(data))
    stop.set()
    reader.join()
    assert problems == []


def test_filesystem_refuses_keys_outside_the_root(tmp_path: Path) -> None:
    """Keys that could climb out of the root are refused before touching the disk."""
    store = FilesystemStorage(tmp_path / "root")
    for key in ("../evil.png", "/etc/passwd", "v1/../../x.png", "v1/a b.png"):
        with pytest.raises(ValueError, match="key"):
            store.put(key, b"x", meta_for(b"x"))


def test_filesystem_leaves_no_temporary_files(tmp_path: Path) -> None:
    """After writes only the image files remain."""
    store = FilesystemStorage(tmp_path / "root")
    store.put(KEY, b"a", meta_for(b"a"))
    store.put(KEY, b"b", meta_for(b"b"))
    files = [p for p in (tmp_path / "root").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [KEY.rsplit("/", 1)[1]]


def test_filesystem_unwritable_root_is_unavailable(tmp_path: Path) -> None:
    """A root that cannot be created is StorageUnavailable, not a crash."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageUnavailable):
        FilesystemStorage(blocker / "images").check()


def test_make_storage_creates_a_missing_bucket(s3_endpoint: str) -> None:
    """s3://bucket/prefix makes the bucket at start-up when it does not exist."""
    bucket = f"made-{uuid.uuid4().hex[:12]}"
    config = load_config(
        {
            "OGSHOT_ALLOWED_HOSTS": "example.com",
            "OGSHOT_STORAGE_URL": f"s3://{bucket}/images",
            "OGSHOT_S3_ENDPOINT_URL": s3_endpoint,
        }
    )
    store = make_storage(config)
    store.put(KEY, b"x", meta_for(b"x"))
    assert (
        make_s3_client(s3_endpoint).get_object(Bucket=bucket, Key=f"images/{KEY}")["ContentType"]
        == "image/png"
    )


def test_make_storage_picks_the_filesystem(tmp_path: Path) -> None:
    """A path or file:// URL gives the filesystem store at that path, announcing changes."""
    for url in (str(tmp_path / "a"), f"file://{tmp_path / 'b'}"):
        config = load_config({"OGSHOT_ALLOWED_HOSTS": "example.com", "OGSHOT_STORAGE_URL": url})
        store = make_storage(config)
        assert isinstance(store, AnnouncedStorage)
        assert isinstance(store.store, FilesystemStorage)
        assert str(store.store.root).startswith(str(tmp_path))
        assert store.hot is store.store.hot
        assert store.hot is not None
        assert store.hot.freshness == 60


def test_unreachable_s3_is_unavailable() -> None:
    """An S3 endpoint nobody listens on is StorageUnavailable, for reads and at start-up."""
    store = S3Storage(make_s3_client("http://127.0.0.1:9"), "bucket")
    with pytest.raises(StorageUnavailable):
        store.get(KEY)
    with pytest.raises(StorageUnavailable):
        store.ensure_bucket()


def test_versions_are_stored_with_the_image(store: Storage) -> None:
    """Every backend gives the versions back, in order, from get and head."""
    meta = dataclasses.replace(meta_for(b"img"), versions=("1", "2026-12-02T10:00"))
    store.put(KEY, b"img", meta)
    assert store.get(KEY).meta.versions == ("1", "2026-12-02T10:00")
    assert store.head(KEY).versions == ("1", "2026-12-02T10:00")


@pytest.mark.server
def test_s3_drops_the_oldest_versions_before_the_metadata_outgrows_its_cap(
    request: pytest.FixtureRequest,
) -> None:
    """A long page URL with sixteen long versions: the newest are kept, the image stored."""
    s3 = _s3(request, f"test-{uuid.uuid4().hex[:12]}")
    long_page = RenderRequest.build("https://example.com/" + "p" * 1400)
    versions = tuple(f"{n:02d}" + "v" * 62 for n in range(16))
    meta = ImageMeta.describe(long_page, b"img", engine="firefox", render_ms=1)
    s3.put("k.png", b"img", dataclasses.replace(meta, versions=versions))
    kept = s3.head("k.png").versions
    assert kept
    assert kept == versions[-len(kept) :]
    assert len(kept) < 16
