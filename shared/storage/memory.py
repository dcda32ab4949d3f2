"""In-memory storage: real code for unit tests and throwaway runs, not a mock."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from shared.storage import ImageMeta, StoredImage


class MemoryStorage:
    """Keeps images in a dict; safe across threads, lost at exit."""

    name = "memory"

    def __init__(self) -> None:
        self._items: dict[str, StoredImage] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> StoredImage:
        """Return the image and its metadata."""
        with self._lock:
            try:
                return self._items[key]
            except KeyError:
                raise FileNotFoundError(key) from None

    def head(self, key: str) -> ImageMeta:
        """Return the metadata without the bytes."""
        return self.get(key).meta

    def put(self, key: str, data: bytes, meta: ImageMeta) -> None:
        """Store or replace the image."""
        with self._lock:
            self._items[key] = StoredImage(meta, data)

    def delete(self, key: str) -> None:
        """Remove the image if present."""
        with self._lock:
            self._items.pop(key, None)

    def check(self) -> None:
        """Memory is always available."""

    def keys(self, prefix: str) -> Iterator[str]:
        """Yield every stored key that starts with ``prefix``."""
        with self._lock:
            found = sorted(k for k in self._items if k.startswith(prefix))
        yield from found
