"""An index of the cached images in Redis, for the admin pages.

Listing, sorting and filtering 10,000 images must not read storage: every render and delete
updates sorted sets (by date, size and render time, and by date per host) and a hash of
metadata per image. ``rebuild`` makes it again from storage (``ogshot reindex``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable

import redis

from shared.keys import KEY_VERSION
from shared.redisconn import translated
from shared.storage import ImageMeta, Storage
from shared.urlpolicy import url_host

IMAGE = "ogshot:img:"
BY = {"date": "ogshot:idx:date", "size": "ogshot:idx:size", "time": "ogshot:idx:ms"}
BY_HOST = "ogshot:idx:host:"
HOSTS = "ogshot:idx:hosts"
# Members "<url>\n<key>": ZSCAN MATCH finds URL substrings server-side.
SEARCH = "ogshot:idx:search"
# Note on an indexed image that its last refresh failed (the image itself is kept).
_NOTE_FAILURE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'failed', ARGV[1]) end
return 0
"""


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


@dataclasses.dataclass(frozen=True)
class Failure:
    """A refresh of an image that failed or was rejected, keeping the image as it was."""

    reason: str
    at: float  # Unix time
    job: str


@dataclasses.dataclass(frozen=True)
class Entry:
    """One indexed image."""

    key: str
    host: str
    meta: ImageMeta
    failed: Failure | None = None  # its last refresh, if that failed


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a listing."""

    entries: list[Entry]
    total: int


def _failure(note: str | None) -> Failure | None:
    if not note:
        return None
    fields = json.loads(note)
    return Failure(str(fields["reason"]), float(fields["at"]), str(fields["job"]))


class ImageIndex:
    """The Redis index of cached images."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._note_failure = client.register_script(_NOTE_FAILURE)

    def add(self, key: str, meta: ImageMeta) -> None:
        """Index (or re-index) a stored image."""
        host = url_host(meta.url)
        with translated():
            pipe = self.client.pipeline()
            pipe.hset(IMAGE + key, mapping={"meta": meta.to_json(), "host": host})
            pipe.hdel(IMAGE + key, "failed")
            pipe.zadd(BY["date"], {key: meta.rendered_at})
            pipe.zadd(BY["size"], {key: meta.size})
            pipe.zadd(BY["time"], {key: meta.render_ms})
            pipe.zadd(BY_HOST + host, {key: meta.rendered_at})
            pipe.sadd(HOSTS, host)
            pipe.zadd(SEARCH, {f"{meta.url}\n{key}": 0})
            pipe.execute()

    def note_failure(self, key: str, reason: str, job: str) -> None:
        """Note on ``key``'s entry, if it has one, that a refresh failed and why."""
        note = json.dumps({"reason": reason[:500], "at": time.time(), "job": job})
        with translated():
            self._note_failure(keys=[IMAGE + key], args=[note])

    def remove(self, key: str) -> None:
        """Drop an image from the index."""
        entry = self.get(key)
        with translated():
            pipe = self.client.pipeline()
            pipe.delete(IMAGE + key)
            for zset in BY.values():
                pipe.zrem(zset, key)
            if entry is not None:
                pipe.zrem(BY_HOST + entry.host, key)
                pipe.zrem(SEARCH, f"{entry.meta.url}\n{key}")
            pipe.execute()
            if entry is not None and not self.client.zcard(BY_HOST + entry.host):
                self.client.srem(HOSTS, entry.host)

    def get(self, key: str) -> Entry | None:
        """Return one entry, or None."""
        return next(iter(self._entries([key])), None)

    def _entries(self, keys: Iterable[str]) -> list[Entry]:
        keys = list(keys)
        with translated():
            pipe = self.client.pipeline()
            for key in keys:
                pipe.hgetall(IMAGE + key)
            rows: list[dict[str, str]] = pipe.execute()
        return [
            Entry(key, row["host"], ImageMeta.from_json(row["meta"]), _failure(row.get("failed")))
            for key, row in zip(keys, rows, strict=True)
            if row
        ]

    def hosts(self) -> list[tuple[str, int]]:
        """Return every host with its number of images, most first."""
        with translated():
            names = sorted(str(name) for name in self.client.smembers(HOSTS))
            pipe = self.client.pipeline()
            for name in names:
                pipe.zcard(BY_HOST + name)
            counts: list[int] = pipe.execute()
        return sorted(zip(names, counts, strict=True), key=lambda hc: (-hc[1], hc[0]))

    def count(self) -> int:
        """Return how many images are indexed."""
        with translated():
            return int(self.client.zcard(BY["date"]))

    def page(
        self,
        *,
        host: str = "",
        search: str = "",
        sort: str = "date",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> Page:
        """Return one page of entries, filtered by host and URL substring, sorted."""
        order = BY.get(sort, BY["date"])
        with translated():
            if not host and not search:
                total = int(self.client.zcard(order))
                end = offset + limit - 1
                if descending:
                    keys = self.client.zrevrange(order, offset, end)
                else:
                    keys = self.client.zrange(order, offset, end)
                return Page(self._entries(keys), total)  # type: ignore[arg-type]
            candidates = self._candidates(host, search)
            scores = self.client.zmscore(order, candidates) if candidates else []
        ranked = sorted(
            zip(candidates, scores, strict=True),
            key=lambda ks: (ks[1] or 0, ks[0]),
            reverse=descending,
        )
        chosen = [k for k, _ in ranked[offset : offset + limit]]
        return Page(self._entries(chosen), len(ranked))

    def keys_of_host(self, host: str) -> list[str]:
        """Return the keys of every image of ``host``."""
        with translated():
            return [str(k) for k in self.client.zrange(BY_HOST + host, 0, -1)]

    def _candidates(self, host: str, search: str) -> list[str]:
        if search:
            pattern = f"*{_glob_escape(search)}*\n*"
            keys = [
                str(member).rsplit("\n", 1)[1]
                for member, _ in self.client.zscan_iter(SEARCH, match=pattern, count=1000)
            ]
            if host:
                scores = self.client.zmscore(BY_HOST + host, keys) if keys else []
                keys = [k for k, s in zip(keys, scores, strict=True) if s is not None]
            return keys
        return self.keys_of_host(host)

    def clear(self) -> None:
        """Remove the whole index."""
        with translated():
            doomed = [*BY.values(), HOSTS, SEARCH]
            doomed += list(self.client.scan_iter(BY_HOST + "*", count=1000))
            doomed += list(self.client.scan_iter(IMAGE + "*", count=1000))
            for start in range(0, len(doomed), 1000):
                self.client.delete(*doomed[start : start + 1000])

    def rebuild(self, storage: Storage) -> int:
        """Index every image in storage from scratch; return how many there are."""
        self.clear()
        count = 0
        for key in storage.keys(KEY_VERSION + "/"):
            try:
                meta = storage.head(key)
            except FileNotFoundError:
                continue  # deleted meanwhile
            self.add(key, meta)
            count += 1
        return count
