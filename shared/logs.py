"""Logging set-up for every ogshot process: plain text, or one JSON object per line."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import threading
import time
from typing import TextIO

from shared.config import Config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON."""
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def formatter(config: Config) -> logging.Formatter:
    """The formatter OGSHOT_LOG_FORMAT asks for."""
    return JsonFormatter() if config.log_format == "json" else logging.Formatter(TEXT_FORMAT)


class _QueueHandler(logging.handlers.QueueHandler):
    """Queues the record itself: the writer thread formats it (the stock handler formats and
    copies each record in the request thread, which is what queueing was to spare)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """Hand the record over as it is; ogshot logs no mutable arguments."""
        return record


class _BatchWriter(threading.Thread):
    """Writes the queued records every PAUSE seconds, all that came meanwhile at once.

    Waking for each record (as logging's QueueListener does) costs the web tier a thread
    switch per request; a batch costs one wake-up and one write per PAUSE
    (docs/benchmarks.md). A line reaches stderr at most PAUSE late.
    """

    PAUSE = 0.05

    def __init__(
        self, records: queue.SimpleQueue[logging.LogRecord], out: logging.StreamHandler[TextIO]
    ) -> None:
        super().__init__(name="ogshot-log-writer", daemon=True)
        self.records = records
        self.out = out
        # Not "_stop": Thread has a method of that name, which join() calls.
        self._stopping = threading.Event()
        self.start()

    def run(self) -> None:
        """Write a batch each PAUSE until stopped, then what is left."""
        while not self._stopping.wait(self.PAUSE):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        lines = []
        while True:
            try:
                record = self.records.get_nowait()
            except queue.Empty:
                break
            try:
                lines.append(self.out.format(record) + "\n")
            except Exception:  # noqa: BLE001 - logging's own rule: report, never raise
                self.out.handleError(record)
        if lines:
            self.out.stream.write("".join(lines))
            self.out.flush()

    def stop(self) -> None:
        """Write what is still queued and end."""
        self._stopping.set()
        self.join(timeout=5)


def setup_logging(config: Config, level: int = logging.INFO, *, background: bool = False) -> None:
    """Send INFO and above to stderr in the configured format (replacing other handlers).

    ``background``: request threads only queue their records and one thread writes them.
    With a shared stream lock, 32 threads that each write a line per request queue up
    behind whichever holds the lock while it waits for the GIL; in the web tier that cost a
    tenth of a hit (docs/benchmarks.md). Only for a process that will not fork afterwards: a
    forked child would inherit the queue but not its writer thread.
    """
    stream: logging.StreamHandler[TextIO] = logging.StreamHandler()
    stream.setFormatter(formatter(config))
    handler: logging.Handler = stream
    if background:
        # Neither format shows the thread or the process name: spare each record finding them.
        logging.logThreads = False
        logging.logMultiprocessing = False
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        writer = _BatchWriter(records, stream)
        atexit.register(writer.stop)  # writes what is still queued
        handler = _QueueHandler(records)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
