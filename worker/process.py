"""A worker process's life: its state built once, its browser warmed after the fork, and
stopped (with any orphans reaped) when it ends."""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from typing import Any

from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from shared.metrics import remove_own_directory
from worker.celery_app import config
from worker.reaper import mark_owner, reap_orphans
from worker.state import WorkerState, build_state

log = logging.getLogger(__name__)

# Celery's main process imports this module (through the task module) before its pool forks:
# the pool's processes inherit the main process's pid here.
_MAIN_PID = os.getpid()


_building = threading.Lock()


def state() -> WorkerState:
    """Build this process's clients and browser once (after the pool forked it). Locked:
    with the threads pool, the warm-up and the first jobs ask for it at once, and each
    would build a state and start a browser of its own (functools.cache does not wait for
    a call in progress)."""
    with _building:
        return _state()


@functools.cache
def _state() -> WorkerState:
    return build_state(config, on_give_up=_stop_worker)


def _stop_worker(why: str) -> None:
    """Stop the whole worker with a failure exit, so compose or systemd start a new one.

    A worker whose browser cannot start would otherwise take jobs it can never render.
    SIGINT is Celery's warm shutdown with exit status 1: running jobs on other processes end.
    """
    log.critical("stopping the worker: %s", why)
    os.kill(_MAIN_PID, signal.SIGINT)


# With one browser shared by threads (OGSHOT_RENDERS_PER_BROWSER above 1) the pool is the
# main process itself: no pool process starts or stops, so the main process's signals
# warm and stop its browser.
THREADS = config.renders_per_browser > 1


@worker_ready.connect
def _warm_up_threads(**_: Any) -> None:
    if THREADS:
        _warm_up()


@worker_process_init.connect
def _warm_up(**_: Any) -> None:
    mark_owner()
    reap_orphans()  # a predecessor killed with SIGKILL left its browser behind

    # In a thread: Celery gives process init only a few seconds, a cold browser needs ~2
    # (more when its start is tried again); the heartbeat starts it, then keeps probing it.
    def warm() -> None:
        try:
            state().heartbeat.start()
        except Exception:
            log.exception("worker start-up failed; the first job will retry it")

    threading.Thread(target=warm, name="ogshot-warm-up", daemon=True).start()


@worker_process_shutdown.connect
def _stop_browser(**_: Any) -> None:
    if _state.cache_info().currsize:
        state().browser.close()


_senders: list[Any] = []


@worker_ready.connect
def _send_webhooks(**_: Any) -> None:
    # In the main process, once the pool has forked (a thread does not survive a fork): it
    # renders nothing, so webhook calls never take a render slot (worker/webhooks.py).
    if not config.webhook_secret:
        return
    from shared.redisconn import connect
    from shared.webhooks import WebhookQueue
    from worker.webhooks import WebhookSender

    queue = WebhookQueue(connect(config.redis_url), config.webhook_horizon)
    _senders.append(WebhookSender(queue, config.webhook_secret, config.webhook_timeout).start())


@worker_shutdown.connect
def _reap_on_exit(**_: Any) -> None:
    for sender in _senders:
        sender.stop()
    if THREADS:  # its renders are done (Celery's warm shutdown waited for them)
        _stop_browser()
    # In the main process, once the pool has stopped: a pool process stopped while its browser
    # was still starting (or one that was killed) leaves a browser only this can catch.
    reap_orphans()
    remove_own_directory()  # the metrics directory `ogshot worker` made for this worker
