"""The in-memory cache of recent images: versions, LRU order, a bound in bytes."""

from __future__ import annotations

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
    cache.put("k", ("inode", 1), stored)
    assert cache.get("k", ("inode", 1)) is stored
    assert cache.get("k", ("inode", 2)) is None
    assert cache.version("k") == ("inode", 1)


def test_least_recently_used_goes_first_and_bytes_stay_bounded() -> None:
    """Over the bound, the entry used longest ago is evicted."""
    cache = HotCache(100)
    for key in "abcdefgh":
        cache.put(key, 1, image(12))
    cache.get("a", 1)  # now b is the oldest
    cache.put("i", 1, image(12))
    assert cache.get("b", 1) is None
    assert all(cache.get(key, 1) is not None for key in "acdefghi")
    assert cache.size == 96


def test_a_large_image_is_not_kept_and_discard_forgets() -> None:
    """One image may not take more than an eighth; discard frees its bytes."""
    cache = HotCache(800)
    cache.put("big", 1, image(101))
    assert cache.get("big", 1) is None
    cache.put("small", 1, image(100))
    cache.put("small", 2, image(50))
    assert cache.size == 50
    cache.discard("small")
    assert (cache.size, cache.version("small")) == (0, None)
