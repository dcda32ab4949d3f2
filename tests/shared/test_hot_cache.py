"""The in-memory cache of recent images: versions, trust, LRU order, a bound in bytes."""

from __future__ import annotations

import time

from shared.keys import RenderRequest
from shared.storage import ImageMeta, StoredImage
from shared.storage.hot import HotCache


def image(size: int) -> StoredImage:
    """An image of ``size`` bytes."""
    data = b"x" * size
    meta = ImageMeta.describe(RenderRequest.build("https://example.com/"), data,
                              engine="firefox", render_ms=1)  # fmt: skip
    return StoredImage(meta, data)


def test_an_entry_is_served_only_at_its_version() -> None:
    """A lookup with another version (the store changed) finds nothing."""
    cache = HotCache(1000)
    stored = image(10)
    cache.put("k", ("inode", 1), stored, cache.generation())
    assert cache.get("k", ("inode", 1), cache.generation()) is stored
    assert cache.get("k", ("inode", 2), cache.generation()) is None
    assert cache.version("k") == ("inode", 1)


def test_least_recently_used_goes_first_and_bytes_stay_bounded() -> None:
    """Over the bound, the entry used longest ago is evicted."""
    cache = HotCache(100)
    for key in "abcdefgh":
        cache.put(key, 1, image(12), cache.generation())
    cache.get("a", 1, cache.generation())  # now b is the oldest
    cache.put("i", 1, image(12), cache.generation())
    assert cache.get("b", 1, cache.generation()) is None
    assert all(cache.get(key, 1, cache.generation()) is not None for key in "acdefghi")
    assert cache.size == 96


def test_a_large_image_is_not_kept_and_discard_forgets() -> None:
    """One image may not take more than an eighth; discard frees its bytes."""
    cache = HotCache(800)
    cache.put("big", 1, image(101), cache.generation())
    assert cache.get("big", 1, cache.generation()) is None
    cache.put("small", 1, image(100), cache.generation())
    cache.put("small", 2, image(50), cache.generation())
    assert cache.size == 50
    cache.discard("small")
    assert (cache.size, cache.version("small")) == (0, None)


def test_an_entry_is_served_unasked_only_while_trusted_and_fresh() -> None:
    """``fresh`` answers only while a listener hears changes, and within the freshness."""
    cache = HotCache(1000, freshness=0.2)
    stored = image(10)
    cache.put("k", 1, stored, cache.generation())
    assert cache.fresh("k") is None  # nobody hears changes yet
    cache.trusted = True
    assert cache.fresh("k") is stored
    time.sleep(0.25)
    assert cache.fresh("k") is None
    assert cache.get("k", 1, cache.generation()) is stored  # the store confirmed it again
    assert cache.fresh("k") is stored
    cache.clear()
    assert (cache.fresh("k"), cache.size) == (None, 0)


def test_a_read_that_raced_a_change_is_not_kept() -> None:
    """An image read before a change was heard is served but neither kept nor confirmed."""
    cache = HotCache(1000, freshness=600)
    cache.trusted = True
    stored = image(10)
    before = cache.generation()
    cache.discard("k")  # the announcement arrives while the read is under way
    cache.put("k", 1, stored, before)
    assert cache.fresh("k") is None
    cache.put("k", 1, stored, cache.generation())
    assert cache.fresh("k") is stored
