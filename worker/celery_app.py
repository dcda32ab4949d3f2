"""The Celery application of the worker: built from the configuration, nothing else."""

from typing import Any

from celery import Celery
from celery.signals import after_setup_logger

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
