"""The Celery application of the worker: built from the configuration, nothing else."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, worker_init

from shared.config import load_config
from shared.jobs import celery_settings
from shared.logs import formatter

config = load_config()
app = Celery("ogshot")
app.conf.update(celery_settings(config))
app.conf.update(
    worker_concurrency=config.worker_concurrency,
    include=["worker.tasks"],
    # mozprocess (under marionette_driver) writes to sys.stdout.buffer, which Celery's
    # stdout-to-log proxy lacks: Firefox could not start with the redirect on.
    worker_redirect_stdouts=False,
)


@after_setup_logger.connect
def _log_format(logger: Any, **_: Any) -> None:
    # Celery sets up its handlers; ogshot only chooses their format (OGSHOT_LOG_FORMAT).
    for handler in logger.handlers:
        handler.setFormatter(formatter(config))


@worker_init.connect
def _metrics_server(**_: Any) -> None:
    # In the main process: it adds up what every pool process recorded (multiprocess mode).
    if config.worker_metrics_port:
        from prometheus_client import start_http_server

        from shared.metrics import registry

        try:
            start_http_server(config.worker_metrics_port, registry=registry())
        except OSError as exc:  # rendering matters more than its metrics
            logging.getLogger(__name__).error(
                "no metrics on port %d: %s", config.worker_metrics_port, exc
            )


@worker_init.connect
def _yield_cpu_to_the_web(**_: Any) -> None:
    # Before the pool forks, so pool processes and their browsers inherit it. On a machine
    # that also serves hits, renders then take the CPU the web tier leaves: a stampede of
    # misses raised the hit p99 less (docs/benchmarks.md). Lowering priority needs no rights.
    if config.worker_nice:
        os.nice(config.worker_nice)
