"""The Celery application of the worker: built from the configuration, nothing else."""

from celery import Celery

from shared.config import load_config
from shared.jobs import celery_settings

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
