"""shared/index.py on a real Redis: the admin's listing, sorting, filtering and search,
failure notes, removal and the rebuild from storage."""

from __future__ import annotations

import dataclasses

import pytest
import redis

from shared.index import HOSTS, ImageIndex
from shared.keys import RenderRequest
from shared.storage import ImageMeta
from shared.storage.memory import MemoryStorage


def _meta(url: str, *, size: int, render_ms: int, at: float) -> ImageMeta:
    meta = ImageMeta.describe(RenderRequest.build(url), b"x" * size, engine="firefox",
                              render_ms=render_ms)  # fmt: skip
    return dataclasses.replace(meta, rendered_at=at)


# (key, page URL, bytes, render ms, rendered at)
IMAGES = [
    ("v1/aa/aa/a.png", "https://a.example/board/1", 300, 900, 1000.0),
    ("v1/bb/bb/b.png", "https://a.example/board/2", 100, 400, 3000.0),
    ("v1/cc/cc/c.png", "https://b.example/news*[1]", 200, 100, 2000.0),
]


@pytest.fixture
def index(redis_client: redis.Redis) -> ImageIndex:
    """An index holding IMAGES."""
    built = ImageIndex(redis_client)
    for key, url, size, ms, at in IMAGES:
        built.add(key, _meta(url, size=size, render_ms=ms, at=at))
    return built


def _keys(page: object) -> list[str]:
    return [entry.key for entry in page.entries]  # type: ignore[attr-defined]


def test_pages_are_sorted_by_date_size_or_render_time(index: ImageIndex) -> None:
    """Newest first by default; by size or render time either way; offset and limit page."""
    assert _keys(index.page()) == ["v1/bb/bb/b.png", "v1/cc/cc/c.png", "v1/aa/aa/a.png"]
    assert _keys(index.page(sort="size", descending=False)) == [
        "v1/bb/bb/b.png", "v1/cc/cc/c.png", "v1/aa/aa/a.png",
    ]  # fmt: skip
    assert _keys(index.page(sort="time")) == ["v1/aa/aa/a.png", "v1/bb/bb/b.png", "v1/cc/cc/c.png"]
    second = index.page(offset=1, limit=1)
    assert (_keys(second), second.total) == (["v1/cc/cc/c.png"], 3)


def test_filter_by_host_and_search_the_url(index: ImageIndex) -> None:
    """A host's images; a URL substring (glob characters taken literally); both at once."""
    assert _keys(index.page(host="b.example")) == ["v1/cc/cc/c.png"]
    assert index.page(search="board").total == 2
    assert _keys(index.page(search="*[1]")) == ["v1/cc/cc/c.png"]
    assert _keys(index.page(host="a.example", search="board/1")) == ["v1/aa/aa/a.png"]
    assert index.page(host="b.example", search="board").total == 0


def test_hosts_are_counted_most_first(index: ImageIndex) -> None:
    """Every host with its number of images."""
    assert index.hosts() == [("a.example", 2), ("b.example", 1)]
    assert index.count() == 3
    assert sorted(index.keys_of_host("a.example")) == ["v1/aa/aa/a.png", "v1/bb/bb/b.png"]


def test_a_failure_note_is_kept_until_the_next_render(index: ImageIndex) -> None:
    """note_failure marks an indexed image (not an unknown key); add clears the note."""
    index.note_failure("v1/aa/aa/a.png", "blank page", "job-7")
    index.note_failure("v1/zz/zz/unknown.png", "blank page", "job-8")
    entry = index.get("v1/aa/aa/a.png")
    assert entry is not None
    assert entry.failed is not None
    assert (entry.failed.reason, entry.failed.job) == ("blank page", "job-7")
    assert index.get("v1/zz/zz/unknown.png") is None
    index.add("v1/aa/aa/a.png", entry.meta)
    refreshed = index.get("v1/aa/aa/a.png")
    assert refreshed is not None
    assert refreshed.failed is None


def test_removing_the_last_image_of_a_host_drops_the_host(
    index: ImageIndex, redis_client: redis.Redis
) -> None:
    """remove takes an image out of every listing and search; a host without images goes."""
    index.remove("v1/cc/cc/c.png")
    assert index.get("v1/cc/cc/c.png") is None
    assert index.page(search="news").total == 0
    assert index.hosts() == [("a.example", 2)]
    assert not redis_client.sismember(HOSTS, "b.example")
    index.remove("v1/cc/cc/c.png")  # again: nothing to do, no error


def test_rebuild_indexes_what_storage_holds(index: ImageIndex) -> None:
    """rebuild forgets the old index and reads every stored image's metadata."""
    storage = MemoryStorage()
    meta = _meta("https://c.example/", size=50, render_ms=10, at=5000.0)
    storage.put("v1/dd/dd/d.png", b"x" * 50, meta)
    assert index.rebuild(storage) == 1
    assert _keys(index.page()) == ["v1/dd/dd/d.png"]
    assert index.hosts() == [("c.example", 1)]
