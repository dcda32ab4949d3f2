"""Worker presence in Redis: which processes are alive and what each is rendering."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from shared.jobstore import WORKER_TTL, JobStore
from shared.redisconn import QueueUnavailable

log = logging.getLogger(__name__)


class Heartbeat:
    """Tells Redis every few seconds that this process lives, and what it renders."""

    def __init__(self, jobs: JobStore, engine: str) -> None:
        self.jobs = jobs
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.fields = {"engine": engine, "job": "", "url": "", "since": ""}
        self._started = False

    def doing(self, job_id: str, url: str) -> None:
        """Record the current job (empty: idle) and say so at once."""
        self.fields.update(job=job_id, url=url, since=str(time.time()) if job_id else "")
        self.beat()

    def beat(self) -> None:
        """Refresh this process's entry; a Redis outage only costs the entry."""
        try:
            self.jobs.worker_seen(self.name, self.fields)
        except QueueUnavailable:
            log.warning("heartbeat not recorded: Redis unavailable")

    def start(self) -> None:
        """Beat every WORKER_TTL/3 seconds in a daemon thread."""
        if self._started:
            return
        self._started = True

        def loop() -> None:
            while True:
                self.beat()
                time.sleep(WORKER_TTL / 3)

        threading.Thread(target=loop, name="ogshot-heartbeat", daemon=True).start()
