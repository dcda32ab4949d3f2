"""Filesystem storage: one file per image, metadata in a header line, atomic replace."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from shared.storage import ImageMeta, StorageUnavailable, StoredImage
from shared.storage.hot import HotCache

# A file starts with this tag and the metadata JSON on one line, then the image bytes.
_MAGIC = b"OGSHOT1 "
_MAX_HEADER = 16 * 1024
# Folders and names of letters, digits and "_", then one or more extensions (a thumbnail of
# "v1/ab/cd/x.png" is "thumbs/v1/ab/cd/x.png.webp"): no "..", no leading "/", no spaces.
_KEY = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*(\.[a-z0-9]+)+$")


def _read_header(handle: object, key: str) -> ImageMeta:
    line = handle.readline(_MAX_HEADER)  # type: ignore[attr-defined]
    if not line.startswith(_MAGIC) or not line.endswith(b"\n"):
        raise StorageUnavailable(f"stored file for {key} is corrupt")
    return ImageMeta.from_json(line[len(_MAGIC) : -1])


class FilesystemStorage:
    """Stores images below ``root``; the embedded default."""

    name = "filesystem"

    def __init__(
        self, root: str | os.PathLike[str], hot_bytes: int = 0, hot_seconds: float = 0.0
    ) -> None:
        self.root = Path(root).resolve()
        self.hot = HotCache(hot_bytes, hot_seconds) if hot_bytes else None

    def _path(self, key: str) -> Path:
        # Keys are made by shared.keys, but refuse anything that could leave the root anyway.
        # _KEY admits no "..", no "/" at either end and no empty part, so the joined path
        # stays below the root without resolving it (which cost a quarter of a hit).
        if not _KEY.match(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    def get(self, key: str) -> StoredImage:
        """Return the image and its metadata in one read."""
        hot = self.hot
        if hot is not None and (cached := hot.fresh(key)) is not None:
            return cached  # only keys that passed _path are in memory
        path = self._path(key)
        try:
            if hot is None:
                return self._read(path, key)
            generation = hot.generation()
            # The file's identity: a replace makes a new inode, a delete makes stat fail. One
            # stat costs a sixth of an open; a file replaced just after it is served as it
            # was a moment before, as a read racing the replace would have been.
            info = os.stat(path)
            version = (info.st_ino, info.st_mtime_ns, info.st_size)
            cached = hot.get(key, version, generation)
            if cached is None:
                cached = self._read(path, key)
                hot.put(key, version, cached, generation)
            return cached
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc

    @staticmethod
    def _read(path: Path, key: str) -> StoredImage:
        with path.open("rb") as handle:
            meta = _read_header(handle, key)
            return StoredImage(meta, handle.read())

    def head(self, key: str) -> ImageMeta:
        """Return the metadata, reading only the header line."""
        if self.hot is not None and (cached := self.hot.fresh(key)) is not None:
            return cached.meta
        path = self._path(key)
        try:
            with path.open("rb") as handle:
                return _read_header(handle, key)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {path}: {exc.strerror}") from exc

    def put(self, key: str, data: bytes, meta: ImageMeta) -> None:
        """Write to a temporary file beside the target, then rename over it."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(_MAGIC + meta.to_json().encode() + b"\n")
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {path}: {exc.strerror}") from exc
        finally:
            self._forget(key)

    def delete(self, key: str) -> None:
        """Remove the file if present."""
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot delete {key}: {exc.strerror}") from exc
        finally:
            self._forget(key)

    def _forget(self, key: str) -> None:
        # After the change, so a read that raced it cannot put the old image back.
        if self.hot is not None:
            self.hot.discard(key)

    def keys(self, prefix: str) -> Iterator[str]:
        """Yield every stored key that starts with ``prefix`` (temporary files skipped)."""
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith(".tmp-"):
                yield key

    def check(self) -> None:
        """Make sure the root exists and is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create {self.root}: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"{self.root} is not writable")
