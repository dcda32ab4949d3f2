"""Prometheus metrics, correct across gunicorn and Celery processes.

Each ``ogshot web`` / ``ogshot worker`` gives its processes one PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode); a scrape adds up every process's values. The web
serves its own at ``/metrics`` (plus the queue depths, read from Redis at scrape time); a
worker host serves its renders on OGSHOT_WORKER_METRICS_PORT.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import REGISTRY

IMAGE_REQUESTS = Counter(
    "ogshot_image_requests", "Image requests by cache outcome.", ["cache"]
)  # fmt: skip
FALLBACKS = Counter("ogshot_fallbacks", "Fallback images served, by reason.", ["reason"])
MISS_WAITS = Counter(
    "ogshot_miss_waits", "Requests that waited for a render, by how the wait ended.", ["result"]
)  # fmt: skip
RENDERS = Counter("ogshot_renders", "Render jobs finished, by engine and outcome.",
                  ["engine", "outcome"])  # fmt: skip
RENDER_SECONDS = Histogram(
    "ogshot_render_seconds", "Time to render, encode and store a page.", ["engine", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)  # fmt: skip
REJECTIONS = Counter(
    "ogshot_render_rejections",
    "Renders not stored because the page was no preview (HTTP error, blank, bot check), by reason.",
    ["reason"],
)
WEBHOOK_DELIVERIES = Counter(
    "ogshot_webhook_deliveries",
    "Webhook attempts, by outcome: delivered, retry (tried again later), failed (refused, "
    "not tried again), gave_up (still failing at the horizon).",
    ["outcome"],
)
BROWSER_RESTARTS = Counter(
    "ogshot_browser_restarts", "Browsers replaced, by engine and reason.", ["engine", "reason"]
)  # fmt: skip


def registry() -> CollectorRegistry:
    """The registry to expose: every process's values in multiprocess mode, else this one's."""
    # PROMETHEUS_MULTIPROC_DIR is prometheus_client's own variable, read from the environment
    # by the library when it starts each metric, not an ogshot setting: what counts is what
    # the library saw (ogshot/services.py sets it for its children), so read it where it does.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
        return collected
    return REGISTRY


def exposition(extra: CollectorRegistry | None = None) -> bytes:
    """The text exposition of all metrics (and of ``extra``'s, scrape-time values)."""
    text = generate_latest(registry())
    return text + generate_latest(extra) if extra is not None else text


# In a metrics directory `ogshot web` or `ogshot worker` made for itself: the service's
# main process removes the directory when the service ends (remove_own_directory).
OWN_MARK = ".made-by-ogshot"


def remove_own_directory() -> None:
    """At the end of a service: remove its metrics directory if ogshot made it for it (one
    given by the operator, or shared by `ogshot serve`'s children, stays)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if directory and (Path(directory) / OWN_MARK).is_file():
        shutil.rmtree(directory, ignore_errors=True)


def mark_process_dead(pid: int) -> None:
    """Let a dead process's live gauges go (gunicorn's child_exit hook)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
