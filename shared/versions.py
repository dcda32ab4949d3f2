"""Image versions (``v=`` in an image URL): which ones a render must record, and merging.

A version is not a render option: one cache key has one image, and its metadata lists the
versions it is known to show (``ImageMeta.versions``), so a request with a known version is
a hit read as any other. A request or a pre-warm with a version not yet known adds it to
``ogshot:wanted:<key>`` (a sorted set, scored by when it was first asked for) before it
starts a render. The worker takes a snapshot of the set just before it loads the page,
records those versions in the new image's metadata, and removes just them: a version asked
for while the page was loading stays wanted, for the render that follows. So a version is
recorded only by a render that started after it was first asked for.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from shared.redisconn import translated

WANTED_PREFIX = "ogshot:wanted:"
# The versions one image keeps, newest last. Each costs at most 67 bytes of metadata read
# on every hit of the image (and S3 caps metadata at 2 KiB, shared/storage/s3.py), while a
# version that has fallen out costs one render when it is asked for again, then is known
# again. Sixteen keeps the recent updates of a page that changes several times a day, whose
# earlier shares a platform may still fetch again (X keeps a card about a week, docs/pages.md).
KEEP_VERSIONS = 16
# A wanted version no render took (its render failed, or the page was deleted) is forgotten.
WANTED_TTL = 24 * 3600

# Add a version unless it is already wanted (its first-asked time stays), using Redis's
# clock; keep the set a day after its last addition.
_WANT = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'NX', t[1] + t[2] / 1e6, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 0
"""


def merge_versions(known: Iterable[str], recorded: Iterable[str]) -> tuple[str, ...]:
    """The versions an image keeps: ``known`` then ``recorded`` (newest last), each once,
    at most KEEP_VERSIONS of the newest."""
    newest = list(recorded)
    kept = [v for v in known if v not in newest] + list(dict.fromkeys(newest))
    return tuple(kept[-KEEP_VERSIONS:])


class VersionBook:
    """The versions wanted of each cache key, in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._want = client.register_script(_WANT)

    def want(self, key: str, version: str) -> None:
        """Say that the next render of ``key`` to start must record ``version``."""
        with translated():
            self._want(keys=[WANTED_PREFIX + key], args=[version, WANTED_TTL])

    def snapshot(self, key: str) -> list[str]:
        """The versions wanted of ``key`` now, oldest request first (taken before a render)."""
        with translated():
            members: list[str] = self.client.zrange(WANTED_PREFIX + key, 0, -1)  # type: ignore[assignment]
        return [str(member) for member in members]

    def recorded(self, key: str, versions: list[str]) -> None:
        """Forget ``versions`` of ``key``: a render that started after them stored them."""
        if versions:
            with translated():
                self.client.zrem(WANTED_PREFIX + key, *versions)

    def pending(self, key: str) -> bool:
        """Tell whether versions of ``key`` still wait for a render."""
        with translated():
            return bool(self.client.zcard(WANTED_PREFIX + key))
