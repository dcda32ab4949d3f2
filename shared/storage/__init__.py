"""Image storage: one small protocol, a filesystem, an S3 and an in-memory backend.

The stores ogshot's processes use are built by ``shared.changes.make_storage``, which wraps
the backend so its changes are announced: this package knows none of that.

Each image is stored with its metadata in one object, so a reader gets bytes and metadata
from one read and a writer replaces both at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from shared.keys import CONTENT_TYPES, RenderRequest


class StorageUnavailable(RuntimeError):  # noqa: N818 - reads as the outcome
    """The store could not be reached or refused the operation (not a missing key)."""


@dataclass(frozen=True)
class ImageMeta:
    """What ogshot knows about a stored image."""

    url: str
    width: int
    height: int
    scale: int
    format: str
    engine: str
    rendered_at: float
    render_ms: int
    size: int
    sha256: str
    title: str = ""  # the page's <title>, for previews in the admin pages
    # How the wait for the page ended: "ready", "timeout: <what was pending>", "error: ...",
    # "off" (OGSHOT_READY_TIMEOUT=0); "" for images rendered before it was recorded.
    readiness: str = ""
    # The render options it was asked with (wait_for, delay, hide, selector, dark: only those
    # given), as the image URL names them.
    options: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    # An element capture larger than 2400x2400 pixels, cut to that.
    clipped: bool = False
    # What the wait for the page was last held up by ("a timer the page set", "drawing on a
    # canvas", "images", ...), "" when it was ready at once or rendered before this was kept.
    waited: str = ""
    # The image versions (v=) it is known to show, newest last (shared/versions.py).
    versions: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        """The image's MIME type."""
        return CONTENT_TYPES[self.format]

    def age(self, now: float | None = None) -> float:
        """Seconds since the image was rendered."""
        return max(0.0, (time.time() if now is None else now) - self.rendered_at)

    def for_thumbnail(self, data: bytes) -> ImageMeta:
        """The metadata of this image's WebP thumbnail ``data``."""
        return dataclasses.replace(
            self, format="webp", size=len(data), sha256=hashlib.sha256(data).hexdigest()
        )

    def to_json(self) -> str:
        """Serialize compactly, ASCII only (S3 metadata must be ASCII)."""
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ImageMeta:
        """Parse ``to_json`` output."""
        data: dict[str, Any] = json.loads(text)
        if "versions" in data:
            data["versions"] = tuple(data["versions"])
        if data.keys() <= _META_FIELDS:
            return cls(**data)
        # Fields a newer ogshot wrote are left out rather than refused (a rolling deploy).
        return cls(**{name: value for name, value in data.items() if name in _META_FIELDS})

    @classmethod
    def describe(
        cls,
        request: RenderRequest,
        data: bytes,
        *,
        engine: str,
        render_ms: int,
        title: str = "",
        readiness: str = "",
        waited: str = "",
        clipped: bool = False,
    ) -> ImageMeta:
        """Build the metadata of freshly rendered ``data``."""
        return cls(
            url=request.url,
            width=request.options.width,
            height=request.options.height,
            scale=request.options.scale,
            format=request.options.format,
            engine=engine,
            rendered_at=time.time(),
            render_ms=render_ms,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            title=title[:200],
            readiness=readiness[:400],
            waited=waited[:100],
            options=request.options.render_options(),
            clipped=clipped,
        )


# ImageMeta's field names: what from_json keeps (read on every hit that asks storage).
_META_FIELDS = frozenset(field.name for field in dataclasses.fields(ImageMeta))


@dataclass(frozen=True)
class StoredImage:
    """An image's bytes with its metadata."""

    meta: ImageMeta
    data: bytes


class Storage(Protocol):
    """Where images live. Missing keys raise FileNotFoundError, outages StorageUnavailable."""

    name: str

    def get(self, key: str) -> StoredImage:
        """Return the image and its metadata."""

    def head(self, key: str) -> ImageMeta:
        """Return the metadata without reading the image."""

    def put(self, key: str, data: bytes, meta: ImageMeta) -> None:
        """Store (or atomically replace) the image and its metadata."""

    def delete(self, key: str) -> None:
        """Remove the image; a missing key is not an error."""

    def check(self) -> None:
        """Raise StorageUnavailable unless the store can be used."""

    def keys(self, prefix: str) -> Iterator[str]:
        """Yield every stored key that starts with ``prefix``."""
