"""Changes to stored images, announced over Redis so that every web process drops its copy.

Every store ogshot builds (``make_storage``, below) is an ``AnnouncedStorage``: once
an image is replaced or deleted (a render, a pre-warm, the admin pages' delete and purge), its
key is published on ``ogshot:changed:<Redis database>``. Each web process runs one
``ChangeListener``: it drops each announced key from the process's in-memory cache
(``shared.storage.hot``), and lets the cache serve without asking storage only while it is
sure to hear: from its subscription (which first empties the cache, since changes made while
it was deaf went unheard) until the connection fails or Redis stays silent longer than
``SILENCE``. While it is not listening every hit is confirmed with storage, as with
``OGSHOT_MEMORY_CACHE_SECONDS=0``.

What can still go unheard: an announcement that could not be published (the writer lost
Redis after storing; it logs a warning) or one lost in a connection that broke without
telling for up to ``SILENCE``. The cache's freshness (``OGSHOT_MEMORY_CACHE_SECONDS``) bounds
for how long such a change goes unseen (docs/operations.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis

from shared.redisconn import connect
from shared.storage import ImageMeta, Storage, StoredImage
from shared.storage.hot import HotCache

if TYPE_CHECKING:
    from shared.config import Config

log = logging.getLogger(__name__)

CHANNEL = "ogshot:changed:"


def channel(client: redis.Redis) -> str:
    """The channel of the client's database: Redis has one set of channels for all its
    databases, and deployments that share a server by database must not hear each other."""
    return f"{CHANNEL}{client.connection_pool.connection_kwargs.get('db', 0)}"


# Seconds of quiet after which the listener pings Redis, and without any answer after which
# it stops trusting the cache and connects again.
PING_EVERY = 5.0
SILENCE = 12.0
# Seconds between attempts to subscribe again after a failure.
RETRY = 1.0
# Longest wait for a message before looking at the clock (and at stop()) again.
WAKE = 0.25


class AnnouncedStorage:
    """A store that announces every replace and delete on its ``channel`` once it is done."""

    def __init__(self, store: Storage, client: redis.Redis) -> None:
        self.store = store
        self.client = client
        self.channel = channel(client)
        self.name = store.name
        # The store's in-memory cache, for a ChangeListener (None: it has none).
        self.hot: HotCache | None = getattr(store, "hot", None)

    def get(self, key: str) -> StoredImage:
        """Return the image and its metadata."""
        return self.store.get(key)

    def head(self, key: str) -> ImageMeta:
        """Return the metadata."""
        return self.store.head(key)

    def put(self, key: str, data: bytes, meta: ImageMeta) -> None:
        """Store the image, then announce it (also after a failure: it may have landed)."""
        try:
            self.store.put(key, data, meta)
        finally:
            self._announce(key)

    def delete(self, key: str) -> None:
        """Delete the image, then announce it."""
        try:
            self.store.delete(key)
        finally:
            self._announce(key)

    def check(self) -> None:
        """Raise StorageUnavailable unless the store can be used."""
        self.store.check()

    def keys(self, prefix: str) -> Iterator[str]:
        """Yield every stored key that starts with ``prefix``."""
        return self.store.keys(prefix)

    def _announce(self, key: str) -> None:
        try:
            self.client.publish(self.channel, key)
        except redis.RedisError as exc:
            # The change itself is done; web processes see it once their copy's freshness
            # (OGSHOT_MEMORY_CACHE_SECONDS) runs out.
            log.warning("change of key=%s not announced: %s", key, exc)


class ChangeListener:
    """One thread per web process: drops announced keys and switches the cache's trust."""

    def __init__(self, client: redis.Redis, cache: HotCache) -> None:
        self.client = client
        self.cache = cache
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ogshot-changes", daemon=True)

    def start(self) -> ChangeListener:
        """Start listening in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (the cache stops trusting) and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=SILENCE)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except (redis.RedisError, OSError) as exc:
                log.warning("not hearing changes to stored images, each hit asks storage: %s", exc)
            self._stop.wait(RETRY)

    def _listen(self) -> None:
        # redis-py leaves pubsub() unannotated.
        pubsub: Any = self.client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(channel(self.client))
            heard = pinged = time.monotonic()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=WAKE)
                now = time.monotonic()
                if message is not None:
                    heard = now
                    self._handle(message)
                elif now - heard > SILENCE:
                    raise redis.ConnectionError(f"no answer from Redis for {SILENCE:g} s")
                elif now - max(heard, pinged) >= PING_EVERY:
                    pubsub.ping()  # its pong is the proof of life
                    pinged = now
        finally:
            self.cache.trusted = False
            pubsub.close()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "message":
            self.cache.discard(str(message["data"]))
        elif kind == "subscribe":
            # Changes made before this moment may have gone unheard: start from nothing.
            self.cache.clear()
            self.cache.trusted = True


def make_storage(config: Config) -> AnnouncedStorage:
    """Build the backend named by ``OGSHOT_STORAGE_URL``, creating an S3 bucket if needed,
    wrapped once so that its replaces and deletes are announced over Redis (web processes
    that keep the image in memory drop it)."""
    parts = urlsplit(config.storage_url)
    hot = (config.memory_cache_mb * 1024 * 1024, config.memory_cache_seconds)
    store: Storage
    if parts.scheme == "s3":
        # Here, not at the top: a process on the filesystem store never loads boto3.
        from shared.storage.s3 import S3Storage, make_s3_client

        s3 = S3Storage(
            make_s3_client(config.s3_endpoint_url), parts.netloc, parts.path.strip("/"), *hot
        )
        s3.ensure_bucket()
        store = s3
    else:
        from shared.storage.fs import FilesystemStorage

        store = FilesystemStorage(parts.path if parts.scheme == "file" else config.storage_url,
                                  *hot)  # fmt: skip
    return AnnouncedStorage(store, connect(config.redis_url))
