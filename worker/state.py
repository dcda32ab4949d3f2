"""What one worker process builds once from the configuration and keeps between jobs.

Apart from the task module (which needs the Celery app, read from the environment), so the
tests can build a worker's state from any configuration.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from shared.changes import make_storage
from shared.config import Config
from shared.index import ImageIndex
from shared.jobstore import JobStore
from shared.redisconn import connect
from shared.singleflight import SingleFlight
from shared.storage import Storage
from shared.urlpolicy import UrlPolicy
from shared.versions import VersionBook
from shared.webhooks import WebhookQueue
from worker.browser import WarmBrowser
from worker.contexts import SharedBrowser
from worker.egress import GuardPool
from worker.engines import EngineOptions, make_engine
from worker.heartbeat import Heartbeat


@dataclass
class WorkerState:
    """What one worker process keeps between jobs."""

    storage: Storage
    flight: SingleFlight
    jobs: JobStore
    index: ImageIndex
    heartbeat: Heartbeat
    policy: UrlPolicy
    egress: GuardPool
    browser: WarmBrowser | SharedBrowser
    versions: VersionBook
    webhooks: WebhookQueue
    quality_gate: bool = True  # OGSHOT_QUALITY_GATE: blank renders are rejected
    failure_ttl: int = 300  # OGSHOT_FAILURE_TTL: seconds a failed render is remembered


# Failed browser starts in a row after which the worker stops (to be restarted by whatever
# runs it): with the heartbeat's pauses between tries, about half a minute.
GIVE_UP_AFTER = 5


def build_state(config: Config, on_give_up: Callable[[str], None] | None = None) -> WorkerState:
    """Build a process's clients and (not yet started) browser from ``config``.

    ``on_give_up`` is called once the browser failed to start GIVE_UP_AFTER times in a row.
    """
    client = connect(config.redis_url)
    policy = UrlPolicy.from_config(config)
    slots = config.renders_per_browser
    egress = GuardPool(policy, config.max_page_bytes, config.max_page_requests, slots)
    jobs = JobStore(client, config.prewarm_debounce)
    browser = _browser(config, egress.port, on_give_up)
    return WorkerState(
        storage=make_storage(config),
        flight=SingleFlight(client, config.lock_ttl),
        jobs=jobs,
        index=ImageIndex(client),
        heartbeat=Heartbeat(jobs, browser),
        policy=policy,
        egress=egress,
        browser=browser,
        versions=VersionBook(client),
        webhooks=WebhookQueue(client, config.webhook_horizon),
        quality_gate=config.quality_gate,
        failure_ttl=config.failure_ttl,
    )


def _browser(
    config: Config, proxy_port: int, on_give_up: Callable[[str], None] | None
) -> WarmBrowser | SharedBrowser:
    """One page at a time in a warm browser, or (OGSHOT_RENDERS_PER_BROWSER above 1) many
    at once, each in a context of its own."""
    if config.renders_per_browser > 1:
        from worker.engines.launch import start  # selenium: only in a worker that renders

        engine_options = EngineOptions(
            render_timeout=config.render_timeout,
            ready_timeout=config.ready_timeout,
            hide_consent=config.hide_consent,
        )
        binary = str(config.browser_binary) if config.browser_binary else None
        return SharedBrowser(
            config.browser,
            functools.partial(start, config.browser, engine_options, proxy_port, binary),
            config.browser_max_renders,
            GIVE_UP_AFTER,
            on_give_up,
        )
    return WarmBrowser(
        config.browser,
        functools.partial(
            make_engine,
            config.browser,
            config.render_timeout,
            proxy_port,
            config.browser_binary,
            ready_timeout=config.ready_timeout,
            hide_consent=config.hide_consent,
        ),
        config.browser_max_renders,
        GIVE_UP_AFTER,
        on_give_up,
    )
