"""Worker presence in Redis: which processes are alive, whether their browser works, and
what each is rendering."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from shared.jobstore import WORKER_TTL, JobStore
from shared.redisconn import QueueUnavailable
from worker.browser import WarmBrowser
from worker.contexts import SharedBrowser

log = logging.getLogger(__name__)

# A browser not seen working (by a render or a probe) for this long is probed with a blank
# page: an idle worker whose browser died must stop looking healthy within a minute.
PROBE_EVERY = 30.0
# Between failed starts: 2, 4, 8 ... seconds, at most this.
MAX_BACKOFF = 10.0


class Heartbeat:
    """Tells Redis every few seconds that this process lives, whether its browser works
    (``browser``: "ok", "starting" or "failing: why"), and what it renders."""

    def __init__(self, jobs: JobStore, browser: WarmBrowser | SharedBrowser) -> None:
        self.jobs = jobs
        self.browser = browser
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self.fields = {"engine": browser.name, "job": "", "url": "", "since": "", "browser": ""}
        self._started = False

    def doing(self, job_id: str, url: str) -> None:
        """Record the current job (empty: idle) and say so at once."""
        self.fields.update(job=job_id, url=url, since=str(time.time()) if job_id else "")
        self.beat()

    def beat(self) -> None:
        """Refresh this process's entry; a Redis outage only costs the entry."""
        self.fields["browser"] = self.browser.state
        try:
            self.jobs.worker_seen(self.name, self.fields)
        except QueueUnavailable:
            log.warning("heartbeat not recorded: Redis unavailable")

    def start(self) -> None:
        """Start the browser, then probe it and beat every WORKER_TTL/3 s, in a daemon thread.

        While the browser fails to start, starts are tried again with a growing pause.
        """
        if self._started:
            return
        self._started = True

        def loop() -> None:
            while True:
                try:
                    state = self.browser.probe(PROBE_EVERY)
                except Exception:  # a bug here must not stop the beats
                    log.exception("browser probe failed")
                    state = self.browser.state
                self.beat()
                failures = self.browser.start_failures
                if state == "ok" or not failures:
                    time.sleep(WORKER_TTL / 3)
                else:
                    time.sleep(min(2.0**failures, MAX_BACKOFF))

        threading.Thread(target=loop, name="ogshot-heartbeat", daemon=True).start()
