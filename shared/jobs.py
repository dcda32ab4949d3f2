"""The job contract between web and worker: task name, queues, payload, result, settings.

The web enqueues by name with these settings and never imports worker code or a browser
library; the worker registers its task under the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from shared.config import Config

RENDER_TASK = "ogshot.render"
# Workers consume both, the miss queue first: a crawler waiting for an image is never stuck
# behind a large pre-warm batch.
MISS_QUEUE = "ogshot.miss"
PREWARM_QUEUE = "ogshot.prewarm"
QUEUES = (MISS_QUEUE, PREWARM_QUEUE)


class RenderResult(TypedDict):
    """What a render task returns (small metadata, never image bytes)."""

    key: str
    # "rendered"; "fresh" (already cached); "busy" (another job holds the key);
    # "requeued" (a pre-warm waiting for a running render of its key went back to the queue);
    # "failed" (the page could not be rendered or was no preview: ``error`` says why);
    # "abandoned" (delivered too often: its workers kept dying)
    status: str
    error: str
    engine: str
    render_ms: int
    size: int
    readiness: str  # how the wait for the page ended (see ImageMeta.readiness)
    clipped: bool  # an element capture cut to 2400x2400 pixels


# The longest countdown before a render is tried again (its backoff doubles up to this).
RETRY_BACKOFF_MAX = 30


def celery_settings(config: Config) -> dict[str, Any]:
    """Return the Celery settings both the producer (web) and the consumer (worker) use."""
    return {
        "broker_url": config.redis_url,
        "result_backend": config.redis_url,
        "result_expires": 24 * 3600,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": MISS_QUEUE,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 2,
        # An unacknowledged job comes back after this long; it must exceed the hard time
        # limit plus the longest retry countdown (a worker holds a job while it counts down),
        # or a job would be handed to a second worker while the first still has it.
        "broker_transport_options": {
            "visibility_timeout": int(config.hard_time_limit) + RETRY_BACKOFF_MAX + 30,
            # Look for jobs to bring back every 5 s: kombu's default (one sweep in ten of one
            # every 10 s) let the job of a worker killed outright wait 100 s more.
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
            # Poll the queues in the order given (QUEUES), not round-robin.
            "queue_order_strategy": "priority",
        },
        "result_backend_transport_options": {"retry_policy": {"timeout": 2.0}},
        # A web request must not hang on a broken broker: give up fast, serve the fallback.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
    }


Sender = Callable[[dict[str, Any], str], None]


def make_sender(config: Config) -> Sender:
    """Return ``send(payload, job_id)``, which queues a render job by name over Redis."""
    from celery import Celery
    from kombu.exceptions import KombuError

    from shared.redisconn import QueueUnavailable

    client = Celery("ogshot-web")
    client.conf.update(celery_settings(config))

    def send(payload: dict[str, Any], job_id: str) -> None:
        queue = PREWARM_QUEUE if payload.get("prewarm") else MISS_QUEUE
        try:
            client.send_task(RENDER_TASK, args=[payload], task_id=job_id, queue=queue)
        except (KombuError, OSError) as exc:
            raise QueueUnavailable(f"cannot queue render: {exc}") from exc

    return send
