"""The web tier: answers image requests from storage or through the queue; never renders."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import redis
from flask import Flask, current_app
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import PathConverter

from shared.changes import AnnouncedStorage, ChangeListener, make_storage
from shared.config import Config
from shared.imaging import load_fallback_file
from shared.index import ImageIndex
from shared.jobs import Sender, make_sender
from shared.jobstore import JobStore
from shared.ratelimit import RateLimits
from shared.redisconn import connect
from shared.singleflight import SingleFlight
from shared.storage import Storage
from shared.urlpolicy import UrlPolicy
from shared.versions import VersionBook
from shared.webhooks import WebhookQueue
from web.serving import ImageService


class EverythingConverter(PathConverter):
    """Like ``path`` but may start with "/": a page URL such as "//host/" must reach the view."""

    regex = ".*?"
    part_isolating = False  # werkzeug would infer True from a regex without "/"


@dataclass(frozen=True)
class Services:
    """The clients a request needs, built once per process."""

    config: Config
    policy: UrlPolicy
    storage: Storage
    flight: SingleFlight
    jobs: JobStore
    index: ImageIndex
    versions: VersionBook
    webhooks: WebhookQueue
    limits: RateLimits
    send: Sender
    fallback_file: tuple[bytes, str] | None
    images: ImageService  # answers the image routes (web/serving.py)


def create_app(
    config: Config,
    *,
    storage: Storage | None = None,
    flight: SingleFlight | None = None,
    send: Sender | None = None,
    limits: RateLimits | None = None,
) -> Flask:
    """Build the Flask app; tests may pass their own storage, single-flight, sender, limits."""
    from web import access, admin, api, errors, image, pages

    app = Flask(__name__)
    if config.trusted_proxies:
        # Believe X-Forwarded-* only from as many proxies as the operator says stand in front.
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024  # 1,000 URLs fit with room to spare
    # The page URL sits in the path, "https://" and all: merging "//" would corrupt it.
    app.url_map.merge_slashes = False
    app.url_map.converters["everything"] = EverythingConverter
    client = flight.client if flight else connect(config.redis_url)
    policy = UrlPolicy.from_config(config)
    store = AnnouncedStorage(storage, client) if storage is not None else make_storage(config)
    flight = flight or SingleFlight(client, config.lock_ttl)
    jobs = JobStore(client, config.prewarm_debounce)
    versions = VersionBook(client)
    limits = limits or RateLimits(
        config.redis_url, config.client_misses_per_minute, config.host_renders_per_minute
    )
    send = send or make_sender(config)
    images = ImageService(
        policy=policy,
        storage=store,
        flight=flight,
        jobs=jobs,
        versions=versions,
        limits=limits,
        send=send,
        # Bounds how many requests of this process wait for a render at once, so a burst
        # of misses cannot take every thread away from cache hits.
        waiters=threading.BoundedSemaphore(config.max_waiting),
        signing_keys=config.signing_keys,
        require_signature=config.require_signature,
        cache_ttl=config.cache_ttl,
        miss_wait=config.miss_wait,
        max_queue=config.max_queue,
    )
    app.extensions["ogshot"] = Services(
        config=config,
        policy=policy,
        storage=store,
        flight=flight,
        jobs=jobs,
        index=ImageIndex(client),
        versions=versions,
        webhooks=WebhookQueue(client, config.webhook_horizon),
        limits=limits,
        send=send,
        fallback_file=load_fallback_file(config.fallback_image) if config.fallback_image else None,
        images=images,
    )
    app.register_blueprint(image.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    admin.install(app, config)
    errors.register(app)
    access.install(app)
    return app


def hear_changes(app: Flask) -> ChangeListener | None:
    """Start this process's listener for changes to stored images (after gunicorn's fork:
    a thread does not survive it), so its in-memory cache may serve hits without asking
    storage. None when there is nothing to trust: no memory cache, or
    OGSHOT_MEMORY_CACHE_SECONDS=0."""
    svc: Services = app.extensions["ogshot"]
    hot = getattr(svc.storage, "hot", None)
    if hot is None or not hot.freshness:
        return None
    client: redis.Redis = svc.flight.client
    return ChangeListener(client, hot).start()


def services() -> Services:
    """Return the current app's services."""
    result: Services = current_app.extensions["ogshot"]
    return result
