"""Recently served images kept in process memory, each use confirmed by the store first.

A backend looks up an entry only with the version the store reports right now: the file's
identity as ``stat`` gives it (inode, mtime, size) for the filesystem, the object's ETag
through a conditional GET for S3. Once an image is replaced or deleted, it is therefore never
served from here; what the cache saves is reading and copying the bytes (for S3, transferring
them), which was the largest cost of a hit (docs/benchmarks.md).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from shared.storage import StoredImage

# One image may take at most this share of the cache, so one large image cannot flush it.
_LARGEST_SHARE = 8


class HotCache:
    """A thread-safe LRU of images bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[Hashable, StoredImage]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str, version: Hashable) -> StoredImage | None:
        """Return the cached image if it is of ``version``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def version(self, key: str) -> Hashable | None:
        """The version of the cached image, if any (for a conditional read)."""
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry[0]

    def put(self, key: str, version: Hashable, image: StoredImage) -> None:
        """Keep ``image`` as ``key`` at ``version``, evicting the least recently used."""
        size = len(image.data)
        if size * _LARGEST_SHARE > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1].data)
            self._entries[key] = (version, image)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= len(evicted.data)

    def discard(self, key: str) -> None:
        """Forget ``key`` (it was deleted or replaced here)."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1].data)

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._bytes
