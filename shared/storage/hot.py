"""Recently served images kept in process memory.

Two ways to know an entry is still the stored image:

- confirmed: the backend asks the store for the version it holds right now (the file's
  identity from ``stat``, the object's ETag through a conditional GET) and the entry is used
  only if it matches. Safe alone, but a hit still pays a call to the store.
- trusted: while this process hears every change over Redis (``shared.changes`` sets
  ``trusted`` and drops each announced key), an entry confirmed less than ``freshness``
  seconds ago is served without asking. ``freshness`` bounds what a lost announcement can
  cost; a process that stops hearing stops trusting at once.

A read that raced a change must not put the old image back after the change dropped it:
``generation()`` is taken before the read and ``put``/``get`` keep nothing when a drop
happened in between.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable

from shared.storage import StoredImage

# One image may take at most this share of the cache, so one large image cannot flush it.
_LARGEST_SHARE = 8


class _Entry:
    __slots__ = ("checked", "image", "version")

    def __init__(self, version: Hashable, image: StoredImage, checked: float) -> None:
        self.version = version
        self.image = image
        self.checked = checked  # time.monotonic() of the last confirmation with the store


class HotCache:
    """A thread-safe LRU of images bounded by their total size in bytes."""

    def __init__(self, max_bytes: int, freshness: float = 0.0) -> None:
        self.max_bytes = max_bytes
        self.freshness = freshness
        # True only while shared.changes hears every change to the store.
        self.trusted = False
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._generation = 0
        self._lock = threading.Lock()

    def fresh(self, key: str) -> StoredImage | None:
        """The cached image, if it may be served without asking the store."""
        if not self.trusted:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry.checked >= self.freshness:
                return None
            self._entries.move_to_end(key)
            return entry.image

    def generation(self) -> int:
        """A token to take before reading the store, for ``get`` and ``put``."""
        return self._generation

    def get(self, key: str, version: Hashable, generation: int) -> StoredImage | None:
        """Return the cached image if the store just confirmed it is of ``version``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.version != version:
                return None
            if generation == self._generation:
                entry.checked = time.monotonic()
            self._entries.move_to_end(key)
            return entry.image

    def version(self, key: str) -> Hashable | None:
        """The version of the cached image, if any (for a conditional read)."""
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry.version

    def put(self, key: str, version: Hashable, image: StoredImage, generation: int) -> None:
        """Keep ``image`` as ``key`` at ``version``, evicting the least recently used.

        Nothing is kept if a change was heard since ``generation`` was taken: the image was
        read before it and may be the old one.
        """
        size = len(image.data)
        if size * _LARGEST_SHARE > self.max_bytes:
            return
        with self._lock:
            if generation != self._generation:
                return
            self._pop(key)
            self._entries[key] = _Entry(version, image, time.monotonic())
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.image.data)

    def discard(self, key: str) -> None:
        """Forget ``key``: it was replaced or deleted."""
        with self._lock:
            self._generation += 1
            self._pop(key)

    def clear(self) -> None:
        """Forget everything: changes may have gone unheard."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._bytes = 0

    def _pop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.image.data)

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._bytes
